"""agent clients: the jwks_uri a client registered, whose keys are fetched and refreshed (RFC 7591 §2)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent_clients") as batch:
        batch.add_column(sa.Column("jwks_uri", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_clients") as batch:
        batch.drop_column("jwks_uri")
