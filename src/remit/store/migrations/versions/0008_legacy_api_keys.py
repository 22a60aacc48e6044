"""legacy api keys: agents' static keys, argon2id-hashed, always expiring, their use counted

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legacy_api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("use_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["agent"], ["agents.name"], name=op.f("fk_legacy_api_keys_agent_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_legacy_api_keys_prefix")),
    )
    op.create_index(op.f("ix_legacy_api_keys_agent"), "legacy_api_keys", ["agent"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_legacy_api_keys_agent"), table_name="legacy_api_keys")
    op.drop_table("legacy_api_keys")
