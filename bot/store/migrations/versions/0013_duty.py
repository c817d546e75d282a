"""whose duty: returns citing the duty list, rulings, the versioned duty list, owners per case

Revision ID: 0013_duty
Revises: 0012_neighbours
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0013_duty"
down_revision: str | None = "0012_neighbours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owners_seen", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("owner_count", sa.Integer(), server_default="1", nullable=False)
        )
    op.create_table(
        "case_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("returned_by", sa.BigInteger(), nullable=False),
        sa.Column("returner", sa.String(length=80), nullable=False),
        sa.Column("clause", sa.String(length=120), nullable=False),
        sa.Column("claimed_owner", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("adjudicator", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("rule_by", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ruled_by", sa.BigInteger(), nullable=True),
        sa.Column("ruled_at", UTCDateTime(), nullable=True),
        sa.Column("ruling_reason", sa.Text(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_disputes_case_id", "case_disputes", ["case_id"])
    op.create_index("ix_case_disputes_rule_by", "case_disputes", ["rule_by"])
    op.create_table(
        "duty_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("owner_before", sa.String(length=80), nullable=False),
        sa.Column("owner_after", sa.String(length=80), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("made_by", sa.BigInteger(), nullable=False),
        sa.Column("by_role", sa.String(length=16), nullable=False),
        sa.Column("made_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["case_disputes.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_duty_amendments_community_id", "duty_amendments", ["community_id"])


def downgrade() -> None:
    op.drop_index("ix_duty_amendments_community_id", table_name="duty_amendments")
    op.drop_table("duty_amendments")
    op.drop_index("ix_case_disputes_rule_by", table_name="case_disputes")
    op.drop_index("ix_case_disputes_case_id", table_name="case_disputes")
    op.drop_table("case_disputes")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("owner_count")
        batch_op.drop_column("owners_seen")
