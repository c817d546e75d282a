"""open311: API keys, submitter contacts, case source and approved description, public indexes

Revision ID: 0004_open311
Revises: 0004_chat_a
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.models

revision: str = "0004_open311"
down_revision: str | None = "0004_chat_a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bot.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", bot.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "open311_contacts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=True),
        sa.Column("first_name", sa.String(length=128), nullable=True),
        sa.Column("last_name", sa.String(length=128), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("address_string", sa.String(length=256), nullable=True),
        sa.Column("media_url", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("open311_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open311_contacts_api_key_id"), ["api_key_id"], unique=False
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), server_default="bot", nullable=False)
        )
        batch_op.add_column(sa.Column("public_description", sa.Text(), nullable=True))
        batch_op.create_index("ix_cases_created_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_cases_category_created", ["category", "created_at"], unique=False)
        batch_op.create_index("ix_cases_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_updated_at")
        batch_op.drop_index("ix_cases_category_created")
        batch_op.drop_index("ix_cases_created_id")
        batch_op.drop_column("public_description")
        batch_op.drop_column("source")
    with op.batch_alter_table("open311_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_contacts_api_key_id"))
    op.drop_table("open311_contacts")
    op.drop_table("api_keys")
