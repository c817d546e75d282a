"""joint handling of a case (co-handlers' tasks) and summons (吹哨报到)

Revision ID: 0014_joint
Revises: 0013_duty
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0014_joint"
down_revision: str | None = "0013_duty"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("sign_by", UTCDateTime(), nullable=True),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("contact_by", UTCDateTime(), nullable=True),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("sign_missed_at", UTCDateTime(), nullable=True),
        sa.Column("contact_missed_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_tasks_case_id", "case_tasks", ["case_id"])
    op.create_index("ix_case_tasks_due", "case_tasks", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_case_tasks_due", table_name="case_tasks")
    op.drop_index("ix_case_tasks_case_id", table_name="case_tasks")
    op.drop_table("case_tasks")
