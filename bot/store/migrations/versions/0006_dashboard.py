"""public dashboard: first response time of a case, and the indexes its figures read

Revision ID: 0004_dashboard
Revises: 0004_open311
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_dashboard"
down_revision: str | None = "0004_open311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = (
    "status IN ('triage', 'assigned', 'accepted', 'needs_info', 'transferred', 'escalated', "
    "'reopened')"
)
COLUMNS = [
    "status",
    "category",
    "first_response_at",
    "resolved_at",
    "resolve_by",
    "escalation_count",
    "reopen_count",
    "rating",
]
# Staff actions that count as a response to the resident (bot/services/cases/lifecycle.py RESPONSES).
RESPONSES = "('accepted', 'asked', 'transferred', 'resolved', 'rejected', 'triaged')"
STAFF = "('resident', 'system')"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True)))
    # Cases filed before this migration: their first response is in the audit trail.
    op.execute(
        "UPDATE cases SET first_response_at = (SELECT MIN(e.at) FROM case_events e "
        f"WHERE e.case_id = cases.id AND e.kind IN {RESPONSES} AND e.actor_role NOT IN {STAFF}) "
        "WHERE first_response_at IS NULL"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_created_dashboard",
            ["created_at"],
            postgresql_include=["grid_id", *COLUMNS],
        )
        batch_op.create_index(
            "ix_cases_grid_created_dashboard",
            ["grid_id", "created_at"],
            postgresql_include=COLUMNS,
        )
        batch_op.create_index(
            "ix_cases_resolved_at", ["resolved_at"], postgresql_include=["grid_id"]
        )
        batch_op.create_index(
            "ix_cases_open_by_grid",
            ["grid_id", "created_at", "updated_at"],
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_open_by_grid")
        batch_op.drop_index("ix_cases_resolved_at")
        batch_op.drop_index("ix_cases_grid_created_dashboard")
        batch_op.drop_index("ix_cases_created_dashboard")
        batch_op.drop_column("first_response_at")
