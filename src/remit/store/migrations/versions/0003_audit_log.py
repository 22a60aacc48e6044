"""audit log: hash-chained records, signed checkpoints, chain head

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("resource", sa.String(length=1100), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_agent"), "audit_events", ["agent"])
    op.create_index(op.f("ix_audit_events_owner"), "audit_events", ["owner"])
    op.create_index(op.f("ix_audit_events_resource"), "audit_events", ["resource"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_at", sa.String(length=32), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_prev_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
        sa.column("checkpoint_seq", sa.BigInteger()),
        sa.column("checkpoint_at", sa.String()),
        sa.column("first_seq", sa.BigInteger()),
        sa.column("first_prev_hash", sa.String()),
    )
    op.bulk_insert(
        head,
        [
            {
                "id": 1,
                "seq": 0,
                "hash": GENESIS,
                "checkpoint_seq": 0,
                "checkpoint_at": "",
                "first_seq": 1,
                "first_prev_hash": GENESIS,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_checkpoints")
    op.drop_index(op.f("ix_audit_events_resource"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_owner"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_agent"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_table("audit_events")
