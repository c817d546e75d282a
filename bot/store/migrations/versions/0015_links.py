"""links to other systems: hand-offs, the updates heard back, the links' state

Revision ID: 0015_links
Revises: 0014_joint
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0015_links"
down_revision: str | None = "0014_joint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_id", sa.String(length=40), nullable=True),
        sa.Column("attempted_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("remote_id", sa.String(length=64), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("step_at", UTCDateTime(), nullable=True),
        sa.Column("remote_status", sa.String(length=32), nullable=True),
        sa.Column("remote_external", sa.String(length=64), nullable=True),
        sa.Column("remote_updated_at", UTCDateTime(), nullable=True),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("ack_missed_at", UTCDateTime(), nullable=True),
        sa.Column("contact_missed_at", UTCDateTime(), nullable=True),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("alerted", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoffs_case_id", "handoffs", ["case_id"])
    op.create_index("ix_handoffs_due", "handoffs", ["status", "next_attempt_at"])
    op.create_index("ix_handoffs_remote", "handoffs", ["link_id", "remote_id"])
    op.create_table(
        "handoff_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("remote_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("external", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "key", name="uq_handoff_updates_key"),
    )
    op.create_index("ix_handoff_updates_handoff_id", "handoff_updates", ["handoff_id"])
    op.create_table(
        "link_states",
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("down_since", UTCDateTime(), nullable=True),
        sa.Column("told_down_at", UTCDateTime(), nullable=True),
        sa.Column("last_ok_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=32), nullable=True),
        sa.Column("polled_to", UTCDateTime(), nullable=True),
        sa.Column("caught_up_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("link_id"),
    )


def downgrade() -> None:
    op.drop_table("link_states")
    op.drop_index("ix_handoff_updates_handoff_id", table_name="handoff_updates")
    op.drop_table("handoff_updates")
    op.drop_index("ix_handoffs_remote", table_name="handoffs")
    op.drop_index("ix_handoffs_due", table_name="handoffs")
    op.drop_index("ix_handoffs_case_id", table_name="handoffs")
    op.drop_table("handoffs")
