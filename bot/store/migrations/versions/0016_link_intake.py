"""link intake: link keys, cases received from a link or a hotline, updates pushed to us,
the audit trail indexed by time

Revision ID: 0016_link_intake
Revises: 0014_joint
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0016_link_intake"
down_revision: str | None = "0015_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("link_level", sa.String(length=16), nullable=True))
    op.create_table(
        "case_intakes",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("link_name", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("remote_ref", sa.String(length=64), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("sign_by", UTCDateTime(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=True),
        sa.Column("sign_missed_at", UTCDateTime(), nullable=True),
        sa.Column("contact_by", UTCDateTime(), nullable=False),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("contact_missed_at", UTCDateTime(), nullable=True),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("api_key_id", "remote_ref", name="uq_case_intakes_key_ref"),
    )
    op.create_index("ix_case_intakes_sign_due", "case_intakes", ["sign_by"])
    op.create_index("ix_case_intakes_contact_due", "case_intakes", ["contact_by"])
    op.create_index("ix_case_intakes_received", "case_intakes", ["received_at"])
    op.create_table(
        "remote_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("media_url", sa.String(length=1024), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key_id", "update_id", name="uq_remote_updates_key_update"),
    )
    op.create_index("ix_remote_updates_case_id", "remote_updates", ["case_id"])
    op.create_index("ix_case_events_at_id", "case_events", ["at", "id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_at_id", table_name="case_events")
    op.drop_index("ix_remote_updates_case_id", table_name="remote_updates")
    op.drop_table("remote_updates")
    op.drop_index("ix_case_intakes_received", table_name="case_intakes")
    op.drop_index("ix_case_intakes_contact_due", table_name="case_intakes")
    op.drop_index("ix_case_intakes_sign_due", table_name="case_intakes")
    op.drop_table("case_intakes")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("link_level")
        batch_op.drop_column("link_name")
