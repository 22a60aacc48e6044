"""agent keys: agents' public keys for private_key_jwt, and the client assertions' jti seen (replay)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agent_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent"], ["agents.name"], name=op.f("fk_agent_keys_agent_agents")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_agent_keys")),
    )
    op.create_index(op.f("ix_agent_keys_agent"), "agent_keys", ["agent"], unique=False)
    op.create_table(
        "assertion_jtis",
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name=op.f("pk_assertion_jtis")),
    )
    op.create_index(op.f("ix_assertion_jtis_expires_at"), "assertion_jtis", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_assertion_jtis_expires_at"), table_name="assertion_jtis")
    op.drop_table("assertion_jtis")
    op.drop_index(op.f("ix_agent_keys_agent"), table_name="agent_keys")
    op.drop_table("agent_keys")
