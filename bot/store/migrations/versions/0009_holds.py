"""fair clocks: holds, extensions and the time a case waits for its resident

A case's hold (since, until, reason category), its count of approved deferrals, the requests
and their decisions; the dashboard's covering indexes also carry the two new columns it reads.

Revision ID: 0009_holds
Revises: 0008_public_note
Create Date: 2026-12-12 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0009_holds"
down_revision: str | None = "0008_public_note"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The dashboard's columns (bot/store/models.py DASHBOARD_COLUMNS) before and after.
BEFORE = [
    "status",
    "category",
    "first_response_at",
    "resolved_at",
    "resolve_by",
    "escalation_count",
    "reopen_count",
    "rating",
]
AFTER = [*BEFORE, "held_since", "deferrals"]


def _dashboard_indexes(columns: list[str]) -> None:
    """The covering indexes carry their INCLUDE columns on PostgreSQL only."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_cases_created_dashboard", table_name="cases")
    op.drop_index("ix_cases_grid_created_dashboard", table_name="cases")
    op.create_index(
        "ix_cases_created_dashboard",
        "cases",
        ["created_at"],
        postgresql_include=["grid_id", *columns],
    )
    op.create_index(
        "ix_cases_grid_created_dashboard",
        "cases",
        ["grid_id", "created_at"],
        postgresql_include=columns,
    )


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_cases_held_until", ["held_until"], unique=False)
    op.create_table(
        "case_deferrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("asked_by", sa.BigInteger(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_deferrals_case_id", "case_deferrals", ["case_id"], unique=False)
    _dashboard_indexes(AFTER)


def downgrade() -> None:
    _dashboard_indexes(BEFORE)
    op.drop_index("ix_case_deferrals_case_id", table_name="case_deferrals")
    op.drop_table("case_deferrals")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_held_until")
        batch_op.drop_column("deferrals")
        batch_op.drop_column("held_reason")
        batch_op.drop_column("held_until")
        batch_op.drop_column("held_since")
