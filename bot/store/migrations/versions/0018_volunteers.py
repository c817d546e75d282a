"""organisations, volunteers and their tasks, assisted intake's contact

Revision ID: 0018_volunteers
Revises: 0014_joint
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision: str = "0018_volunteers"
down_revision: str | None = "0017_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("area", sa.String(length=256), nullable=False),
        sa.Column("invite_hash", sa.String(length=64), nullable=True),
        sa.Column("invited_by", sa.BigInteger(), nullable=False),
        sa.Column("invited_at", UTCDateTime(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invite_hash"),
    )
    op.create_index("ix_organisations_community_id", "organisations", ["community_id"])
    op.create_index("ix_organisations_contact_id", "organisations", ["contact_id"])
    op.create_table(
        "volunteers",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("skills", sa.String(length=256), nullable=False),
        sa.Column("times", sa.String(length=256), nullable=False),
        sa.Column("area", sa.String(length=256), nullable=False),
        sa.Column("thank_publicly", sa.Boolean(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "volunteer_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=256), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("organiser_id", sa.BigInteger(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("claimed >= 0 AND claimed <= capacity", name="ck_volunteer_capacity"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_volunteer_tasks_community_id", "volunteer_tasks", ["community_id"])
    op.create_index("ix_volunteer_tasks_grid_id", "volunteer_tasks", ["grid_id"])
    op.create_index("ix_volunteer_tasks_organiser_id", "volunteer_tasks", ["organiser_id"])
    op.create_table(
        "volunteer_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["volunteer_tasks.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "user_id", name="uq_volunteer_claim"),
    )
    op.create_index("ix_volunteer_claims_task_id", "volunteer_claims", ["task_id"])
    op.create_index("ix_volunteer_claims_user_id", "volunteer_claims", ["user_id"])
    op.create_table(
        "assisted_contacts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("hear_back", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("consent_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("assisted_contacts")
    op.drop_index("ix_volunteer_claims_user_id", table_name="volunteer_claims")
    op.drop_index("ix_volunteer_claims_task_id", table_name="volunteer_claims")
    op.drop_table("volunteer_claims")
    op.drop_index("ix_volunteer_tasks_organiser_id", table_name="volunteer_tasks")
    op.drop_index("ix_volunteer_tasks_grid_id", table_name="volunteer_tasks")
    op.drop_index("ix_volunteer_tasks_community_id", table_name="volunteer_tasks")
    op.drop_table("volunteer_tasks")
    op.drop_table("volunteers")
    op.drop_index("ix_organisations_contact_id", table_name="organisations")
    op.drop_index("ix_organisations_community_id", table_name="organisations")
    op.drop_table("organisations")
