"""certificates: Remit's CA for agents and the client certificates it issued (mutual TLS, RFC 8705)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_authorities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("private_enc", sa.Text(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_authorities")),
    )
    op.create_table(
        "agent_certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("spiffe_id", sa.String(length=400), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["agent"], ["agents.name"], name=op.f("fk_agent_certificates_agent_agents")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_agent_certificates")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_agent_certificates_thumbprint")),
    )
    op.create_index(op.f("ix_agent_certificates_agent"), "agent_certificates", ["agent"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_certificates_agent"), table_name="agent_certificates")
    op.drop_table("agent_certificates")
    op.drop_table("certificate_authorities")
