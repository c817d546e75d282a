"""organisations answer a case offered to them; call-back reminders for assisted cases

Revision ID: 0021_org_offers
Revises: 0019_channels
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0021_org_offers"
down_revision: str | None = "0019_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAKEN = "state IN ('taken', 'done')"


def upgrade() -> None:
    op.create_table(
        "case_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "organisation_id", name="uq_case_offers_case_org"),
    )
    op.create_index("ix_case_offers_case_id", "case_offers", ["case_id"])
    op.create_index(
        "ux_case_offers_taken",
        "case_offers",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text(TAKEN),
        sqlite_where=sa.text(TAKEN),
    )
    op.create_table(
        "call_backs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("called_at", UTCDateTime(), nullable=True),
        sa.Column("called_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_backs_case_id", "call_backs", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_call_backs_case_id", table_name="call_backs")
    op.drop_table("call_backs")
    op.drop_index("ux_case_offers_taken", table_name="case_offers")
    op.drop_index("ix_case_offers_case_id", table_name="case_offers")
    op.drop_table("case_offers")
