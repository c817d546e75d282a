"""the staff desk: one-time login links, sessions, cached Telegram files

Revision ID: 0004_desk
Revises: 0004_dashboard
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0004_desk"
down_revision: str | None = "0004_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_login_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_desk_login_links_staff_id", "desk_login_links", ["staff_id"])
    op.create_table(
        "desk_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_desk_sessions_staff_id", "desk_sessions", ["staff_id"])
    op.create_table(
        "telegram_files",
        sa.Column("file_id", sa.String(length=256), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_id"),
    )


def downgrade() -> None:
    op.drop_table("telegram_files")
    op.drop_index("ix_desk_sessions_staff_id", table_name="desk_sessions")
    op.drop_table("desk_sessions")
    op.drop_index("ix_desk_login_links_staff_id", table_name="desk_login_links")
    op.drop_table("desk_login_links")
