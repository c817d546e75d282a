"""announcement channels, direct messages only to residents who asked, batched broadcasts

Revision ID: 0019_channels
Revises: 0014_joint
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0019_channels"
down_revision: str | None = "0018_volunteers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("chat_ref", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=256), nullable=True),
        sa.Column("link", sa.String(length=256), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("linked_by", sa.BigInteger(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.Column("broken_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_channels_scope", "channels", ["scope"])
    with op.batch_alter_table("announcements") as batch:
        batch.add_column(
            sa.Column("dm_cursor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("dm_queued", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("dm_done_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("announcements_dm", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Residents who were getting announcements keep getting them; anyone new asks (/unmute).
    op.execute(
        "UPDATE users SET announcements_dm = (muted_announcements = false) "
        "WHERE consent_at IS NOT NULL AND erased_at IS NULL"
    )
    # Announcements queued before: their direct messages are all in the outbox already.
    op.execute("UPDATE announcements SET dm_done_at = created_at, dm_queued = recipients")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("announcements_dm")
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("dm_done_at")
        batch.drop_column("dm_queued")
        batch.drop_column("dm_cursor")
    op.drop_index("ix_channels_scope", table_name="channels")
    op.drop_table("channels")
