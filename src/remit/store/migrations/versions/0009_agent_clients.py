"""agent clients: agents' OAuth client metadata, starting with dpop_bound_access_tokens (RFC 9449 §5.2)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_clients",
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("dpop_bound_access_tokens", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["agent"], ["agents.name"], name=op.f("fk_agent_clients_agent_agents")),
        sa.PrimaryKeyConstraint("agent", name=op.f("pk_agent_clients")),
    )


def downgrade() -> None:
    op.drop_table("agent_clients")
