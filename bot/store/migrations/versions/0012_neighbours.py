"""case neighbours: the embeddings and categories of settled cases, which the classifier's
second voter compares new messages with (learning at once, without retraining)

Revision ID: 0012_neighbours
Revises: 0011_supervision
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0012_neighbours"
down_revision: str | None = "0011_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_neighbours",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("encoder", sa.String(length=32), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sqlite_autoincrement=True,
    )
    # Cases settled before: their category joins now (the embedding is computed by the
    # first reader, as for a case settled while the voter was not loaded).
    op.execute(
        "INSERT INTO case_neighbours (case_id, category, language, encoder, embedding, at) "
        "SELECT c.id, c.category, c.language, NULL, NULL, c.updated_at FROM cases c "
        "WHERE c.category IS NOT NULL AND c.text IS NOT NULL AND ("
        "c.status IN ('resolved', 'closed') OR c.id IN "
        "(SELECT e.case_id FROM case_events e WHERE e.kind = 'category_changed')) "
        "ORDER BY c.id"
    )


def downgrade() -> None:
    op.drop_table("case_neighbours")
