"""The ORM tables. ORM classes never leave ``remit.store``; repositories return domain values."""

# No ``from __future__ import annotations`` here: SQLAlchemy reads every ``Mapped[...]`` annotation as the classes
# are declared, at each start of a command that opens the store, and evaluating them from strings is slower.

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from remit.store.types import Json, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: ``Index.info`` key: a partial index's condition on PostgreSQL, handed to it by ``for_postgresql``
POSTGRESQL_WHERE = "remit_postgresql_where"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: Json}  # noqa: RUF012 - SQLAlchemy reads it


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentRow(Base):
    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spiffe_id: Mapped[str] = mapped_column(String(400), unique=True)
    owner: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str] = mapped_column(Text)
    team: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    risk_tier: Mapped[str] = mapped_column(String(16))
    clearance: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    review_due_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]


class RoleRow(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    permissions: Mapped[dict[str, Any]]  #: {"permissions": [{"actions": [...], "resource": "..."}]}
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoleAgentRow(Base):
    __tablename__ = "role_agents"

    role: Mapped[str] = mapped_column(ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True)
    agent: Mapped[str] = mapped_column(ForeignKey("agents.name", ondelete="CASCADE"), primary_key=True, index=True)


class RoleUserRow(Base):
    __tablename__ = "role_users"

    role: Mapped[str] = mapped_column(ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class ResourceRow(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(ForeignKey("resources.id"), index=True)
    sensitivity: Mapped[str] = mapped_column(String(32))
    data_classes: Mapped[dict[str, Any]]  #: {"values": [...]}
    attributes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoleResourceRow(Base):
    """Which resources a role's permissions name: keeps a named resource from being deleted under it."""

    __tablename__ = "role_resources"

    role: Mapped[str] = mapped_column(ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True)
    resource: Mapped[str] = mapped_column(ForeignKey("resources.id"), primary_key=True, index=True)


class EventRow(Base):
    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    schema: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    extra: Mapped[dict[str, Any]]
    masked: Mapped[list[str] | None] = mapped_column(Json)  #: the audit masker's paths (None before revision 0012)

    __table_args__ = (Index("ix_events_target", "target_type", "target_id"),)


class AdminTokenRow(Base):
    __tablename__ = "admin_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  #: SHA-256 of the secret; the secret is not kept
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PolicyVersionRow(Base):
    """Every change to the policy set is a new row; nothing is updated or deleted."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    policies: Mapped[str] = mapped_column(Text)
    schema_fragment: Mapped[dict[str, Any] | None]
    on_error: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))  #: SHA-256 of the policy text
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EntitySetRow(Base):
    """Versions of the extra entities (Cedar JSON entity format) that live beside the registry."""

    __tablename__ = "entity_sets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entities: Mapped[dict[str, Any]]  #: {"entities": [...]}
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class ControlRow(Base):
    """One row: what is active, the enforcement mode, and the change counter every server polls."""

    __tablename__ = "control"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)  #: bumped by every change, in the changing transaction
    active_policy_version: Mapped[int | None] = mapped_column(Integer)
    active_entities_version: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class AuditRow(Base):
    """One record of the hash-chained audit log. ``text`` is the canonical JSON that ``hash`` covers; the other
    columns are copies of its members, for filtering, and verification checks that they agree with it."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[str] = mapped_column(String(32), index=True)  #: ``2026-11-28T18:00:00.000000Z``: sorts as text
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(200), index=True)
    owner: Mapped[str | None] = mapped_column(String(200), index=True)
    resource: Mapped[str | None] = mapped_column(String(1100), index=True)  #: ``Type::id``
    allowed: Mapped[bool | None]
    text: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signature over the chain's hash at ``seq``."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(200))


class AuditHeadRow(Base):
    """One row: the chain's last record and last checkpoint, and where it starts after retention pruned it.
    Every appender locks it, so the chain has one order across threads, processes and servers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint_at: Mapped[str] = mapped_column(String(32))
    first_seq: Mapped[int] = mapped_column(BigInteger)  #: the oldest record kept
    first_prev_hash: Mapped[str] = mapped_column(String(64))  #: its predecessor's hash (genesis until pruned)


class SigningKeyRow(Base):
    """A token signing key. The public half as a JWK; the private half sealed with the key-encryption key while the
    key is active, and erased when it retires (it never signs again). At most one row is active."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  #: RFC 7638 thumbprint of the public key
    alg: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  #: active or retired
    public_jwk: Mapped[dict[str, Any]]
    private_enc: Mapped[str | None] = mapped_column(Text)  #: ``remit.tokens.kek`` sealed PKCS #8; None once retired
    kek_id: Mapped[str | None] = mapped_column(String(32))  #: which key-encryption key sealed it
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    verify_until: Mapped[datetime | None]

    __table_args__ = (
        # the backstop under the lock every key change takes: a second active key cannot be committed
        Index(
            "uq_signing_keys_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            info={POSTGRESQL_WHERE: "status = 'active'"},  # the same condition on PostgreSQL: ``for_postgresql``
        ),
    )


class AgentKeyRow(Base):
    """An agent's public key for ``private_key_jwt`` client authentication (RFC 7523)."""

    __tablename__ = "agent_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  #: RFC 7638 thumbprint of the public key
    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), index=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class AgentClientRow(Base):
    """An agent's OAuth client metadata (RFC 7591 §2); an agent without a row has the defaults."""

    __tablename__ = "agent_clients"

    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), primary_key=True)
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(Boolean)  #: RFC 9449 §5.2
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))  #: RFC 7591 §2: where its keys are published
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class AssertionJtiRow(Base):
    """A client assertion's ``jti`` seen before its expiry: a second use is a replay."""

    __tablename__ = "assertion_jtis"

    issuer: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RevokedTokenRow(Base):
    """An access token revoked before its expiry (RFC 7009); the row is pruned once the token has expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]


class CertificateAuthorityRow(Base):
    """Remit's CA for agents' client certificates: one row, made by ``remit ca init`` and never replaced. The private
    key is sealed with the key-encryption key, so that every server of one store issues and checks with it."""

    __tablename__ = "certificate_authorities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  #: ``x5t#S256`` of the CA certificate
    certificate_pem: Mapped[str] = mapped_column(Text)
    key_type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(400))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    private_enc: Mapped[str] = mapped_column(Text)  #: ``remit.tokens.kek`` sealed PKCS #8
    kek_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class AgentCertificateRow(Base):
    """A client certificate issued to an agent by Remit's CA (RFC 8705 mutual-TLS client authentication)."""

    __tablename__ = "agent_certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  #: lowercase hex
    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), index=True)
    spiffe_id: Mapped[str] = mapped_column(String(400))
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)  #: ``x5t#S256``
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(200))
    certificate_pem: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str] = mapped_column(Text)


class LegacyApiKeyRow(Base):
    """A legacy static API key of an agent: the argon2id hash of its secret, never the secret. Always expires."""

    __tablename__ = "legacy_api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  #: the key value's lookup part, not secret
    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), index=True)
    prefix: Mapped[str] = mapped_column(String(64), unique=True)  #: ``remit_apikey_<id>``: what people recognise
    digest: Mapped[str] = mapped_column(String(200))  #: argon2id PHC string of the secret
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    use_count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class RegistrationTokenRow(Base):
    """An initial access token for dynamic client registration (RFC 7591 §3): its SHA-256, never the value."""

    __tablename__ = "registration_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(ForeignKey("users.id"))  #: None: any owner (an admin-wide token)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  #: SHA-256 of the value
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    max_uses: Mapped[int | None] = mapped_column(Integer)  #: None: until it expires
    use_count: Mapped[int] = mapped_column(Integer)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


def for_postgresql() -> None:
    """Give the partial indexes their ``postgresql_where`` (idempotent); ``make_engine`` calls it for PostgreSQL.

    Not in the declarations: a ``postgresql_*`` option loads SQLAlchemy's PostgreSQL dialect, every driver's module
    with it (~40 ms), and a local command on SQLite would pay for that at each start only to declare the tables.
    """
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            where = index.info.get(POSTGRESQL_WHERE)
            if where is not None and index.dialect_options["postgresql"]["where"] is None:
                index.dialect_options["postgresql"]["where"] = text(where)
