"""supervision (督办) of a case and independent verification of closures

Revision ID: 0011_supervision
Revises: 0010_notes
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0011_supervision"
down_revision: str | None = "0010_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supervised_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("supervised_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("supervise_by", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("supervise_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("supervise_missed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_supervise_due",
            ["supervise_by"],
            unique=False,
            postgresql_where=sa.text("supervise_missed_at IS NULL"),
            sqlite_where=sa.text("supervise_missed_at IS NULL"),
        )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("handler_id", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.Column("ask_at", UTCDateTime(), nullable=False),
        sa.Column("way", sa.String(length=16), nullable=True),
        sa.Column("checker_id", sa.BigInteger(), nullable=True),
        sa.Column("asked_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("photo", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    op.create_index("ix_verifications_due", "verifications", ["outcome", "ask_at"])
    op.create_index("ix_verifications_grid_closed", "verifications", ["grid_id", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_verifications_grid_closed", table_name="verifications")
    op.drop_index("ix_verifications_due", table_name="verifications")
    op.drop_table("verifications")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_supervise_due")
        batch_op.drop_column("supervise_missed_at")
        batch_op.drop_column("supervise_reason")
        batch_op.drop_column("supervise_by")
        batch_op.drop_column("supervised_by")
        batch_op.drop_column("supervised_at")
