"""public note and public updated time: what staff publish on purpose, and when a case last
changed in public (a rating is not a public change)

Revision ID: 0008_public_note
Revises: 0004_desk
Create Date: 2026-12-10 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0008_public_note"
down_revision: str | None = "0004_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit events that change a case in public (bot/services/cases/status.py
# PUBLIC_UPDATE_KINDS, as it was when this migration was written).
PUBLIC = (
    "('created', 'triaged', 'rerouted', 'reassigned', 'accepted', 'asked', 'answered', "
    "'transferred', 'escalated', 'resolved', 'rejected', 'reopened', 'cancelled', "
    "'public_note', 'category_changed')"
)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("public_updated_at", UTCDateTime(), nullable=True))
    # Cases filed before: their last public event is in the audit trail (else their filing).
    op.execute(
        "UPDATE cases SET public_updated_at = COALESCE((SELECT MAX(e.at) FROM case_events e "
        f"WHERE e.case_id = cases.id AND e.kind IN {PUBLIC}), created_at)"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_public_updated_at", ["public_updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_public_updated_at")
        batch_op.drop_column("public_updated_at")
        batch_op.drop_column("public_note")
