"""The certificate service: Remit's CA for agents, the client certificates it issues from agents' CSRs, their
revocation, and the check of a certificate presented for mutual-TLS client authentication (RFC 8705 §2.1.2).

* ``init`` makes the CA once; it refuses to replace one, because every certificate it issued would stop
  authenticating and every server's TLS trust file would have to change with it. Its private key is sealed with
  the key-encryption key in the store, so every server of one PostgreSQL store issues and checks with the same CA.
* ``issue``: owners for their own agents (not a quarantined one), admins for all; only to an active agent of an
  active owner. ``revoke`` is final and applies to the next token request on every server.
* ``authenticate``: for the token endpoint. The TLS layer has already checked the chain; this checks it again,
  and what only the store knows: the certificate is one Remit issued, not revoked, to this agent.

Every issue and revocation, and the CA's making, is a change event: it reaches the change feed and the audit chain.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound, ValidationError
from remit.ids import new_id
from remit.registry.models import Agent, AgentStatus, UserStatus, check_text
from remit.store.certificates import CertificateStore
from remit.tokens.agentcreds import agent_event, authorized_agent
from remit.tokens.ca import (
    CA_KEY_TYPES,
    CaKeyType,
    CertificateAuthority,
    certificate_der,
    certificate_pem,
    inspect_certificate,
    load_pem_certificate,
    parse_csr,
    serial_hex,
    thumbprint,
)
from remit.tokens.certificates import MAX_REASON_CHARS, AgentCertificate, CaRecord
from remit.tokens.errors import InvalidClient
from remit.tokens.kek import KeyEncryptionKey

if TYPE_CHECKING:
    from remit.settings import Settings
    from remit.store.repository import SqlStore

#: the shortest certificate validity asked for
MIN_VALID_SECONDS = 60
NO_CA = "Remit has no certificate authority yet: an admin makes it with `remit ca init`"


class CertificateService:
    """Remit's CA and agents' client certificates, over the shared store."""

    def __init__(
        self,
        store: CertificateStore,
        clock: Clock,
        kek: Callable[[], KeyEncryptionKey],
        *,
        certificate_hours: int = 24,
        max_certificate_hours: int = 168,
        organization: str = "Remit",
        ca_validity_days: int = 1826,
    ) -> None:
        self._store = store
        self._clock = clock
        self._kek = kek
        self.certificate_seconds = certificate_hours * 3600
        self.max_certificate_seconds = max_certificate_hours * 3600
        self._organization = organization
        self._ca_days = ca_validity_days
        self._parsed: dict[str, x509.Certificate] = {}  #: CA certificates by id, parsed once
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, store: SqlStore, clock: Clock) -> CertificateService:
        t = settings.tokens
        return cls(
            CertificateStore(store),
            clock,
            functools.cache(lambda: KeyEncryptionKey.from_settings(settings)),  # a failure is retried next time
            certificate_hours=t.certificate_hours,
            max_certificate_hours=t.max_certificate_hours,
            organization=t.ca_organization,
            ca_validity_days=t.ca_validity_days,
        )

    # -- the CA -----------------------------------------------------------------------------------------------

    def init(
        self,
        p: AdminPrincipal,
        *,
        organization: str | None = None,
        valid_days: int | None = None,
        key_type: str = "p256",
    ) -> CaRecord:
        """Make Remit's CA. Raises ``Conflict`` when there is one already: it is never replaced."""
        authorize(p, Act.CA_INIT)
        if key_type not in CA_KEY_TYPES:
            raise ValidationError(f"key_type is one of {', '.join(CA_KEY_TYPES)}", field="key_type")
        days = self._ca_days if valid_days is None else valid_days
        if not 1 <= days <= 36_500:
            raise ValidationError("valid_days is between 1 and 36500", field="valid_days")
        now = self._clock.now()
        with self._store.changing() as tx:
            existing = tx.ca()
            if existing is not None:
                raise Conflict(_exists(existing))
            kind: CaKeyType = "ed25519" if key_type == "ed25519" else "p256"
            ca = CertificateAuthority.create(
                organization=organization or self._organization,
                now=now,
                valid_for=timedelta(days=days),
                key_type=kind,
            )
            cert = ca.certificate
            ca_id = thumbprint(certificate_der(cert))
            kek = self._kek()
            record = CaRecord(
                id=ca_id,
                certificate_pem=ca.certificate_pem,
                key_type=ca.key_type,
                subject=cert.subject.rfc4514_string(),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                created_at=now,
                created_by=p.actor,
                private_enc=kek.encrypt(ca.private_der(), context=_context(ca_id)),
                kek_id=kek.id,
            )
            tx.insert_ca(record)
            tx.add_event(
                ChangeEvent(
                    id=new_id("evt"),
                    at=now,
                    actor=p.actor,
                    action="ca.init",
                    target_type="certificate_authority",
                    target_id=ca_id,
                    before=None,
                    after=ca_view(record),
                )
            )
        return record

    def ca(self) -> CaRecord:
        """The CA (its certificate is public). Raises ``NotFound`` before ``init``."""
        with self._store.reading() as tx:
            record = tx.ca()
        if record is None:
            raise NotFound(NO_CA)
        return record

    # -- agent certificates -----------------------------------------------------------------------------------

    def issue(
        self, p: AdminPrincipal, agent_name: str, csr_pem: str, valid_for_seconds: int | None = None
    ) -> AgentCertificate:
        """Sign a client certificate for ``agent_name`` over the CSR's public key.

        Raises:
            InvalidCsr: the CSR cannot be used (``field="csr"``).
            ValidationError: ``valid_for_seconds`` out of range.
            NotFound: no such agent (or not the caller's).
            Conflict: the agent is not active, its owner is disabled, or there is no CA yet.
        """
        csr = parse_csr(csr_pem)
        seconds = self.certificate_seconds if valid_for_seconds is None else valid_for_seconds
        if not MIN_VALID_SECONDS <= seconds <= self.max_certificate_seconds:
            raise ValidationError(
                f"valid_for_seconds is between {MIN_VALID_SECONDS} and {self.max_certificate_seconds} "
                "(tokens.max_certificate_hours)",
                field="valid_for_seconds",
            )
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = authorized_agent(tx, p, Act.AGENT_CERT_ISSUE, agent_name)
            if agent.status is not AgentStatus.ACTIVE:
                raise Conflict(f"agent {agent_name!r} is {agent.status.value}: certificates go to active agents only")
            owner = tx.get_user(agent.owner)
            if owner is None or owner.status is not UserStatus.ACTIVE:
                raise Conflict(f"the owner of agent {agent_name!r} is disabled: no certificate is issued")
            record = tx.ca()
            if record is None:
                raise Conflict(NO_CA)
            ca = self._open(record)
            valid_for = timedelta(seconds=seconds)
            cert = ca.issue(csr, agent=agent.name, spiffe_id=agent.spiffe_id, now=now, valid_for=valid_for)
            made = AgentCertificate(
                serial=serial_hex(cert.serial_number),
                agent=agent.name,
                spiffe_id=agent.spiffe_id,
                thumbprint=thumbprint(certificate_der(cert)),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                issued_at=now,
                issued_by=p.actor,
                certificate_pem=certificate_pem(cert),
            )
            tx.insert(made)
            tx.add_event(_event(now, p.actor, "agent_certificate.issue", agent, None, made))
        return made

    def list(self, p: AdminPrincipal, agent_name: str) -> tuple[AgentCertificate, ...]:
        """The agent's certificates, revoked and expired ones included, oldest first."""
        with self._store.reading() as tx:
            authorized_agent(tx, p, Act.AGENT_CERT_READ, agent_name)
            return tuple(tx.of_agent(agent_name))

    def revoke(self, p: AdminPrincipal, agent_name: str, serial: str, reason: str = "") -> AgentCertificate:
        """Revoke a certificate: it authenticates no token request from now on, on every server. Final."""
        check_text(reason, "reason", MAX_REASON_CHARS)
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = authorized_agent(tx, p, Act.AGENT_CERT_REVOKE, agent_name)
            before = tx.get(serial.lower())
            if before is None or before.agent != agent_name:
                raise NotFound(f"agent {agent_name!r} has no certificate {serial!r}", field="serial")
            if before.revoked_at is not None:
                raise Conflict(f"the certificate {before.serial} is already revoked")
            tx.revoke(before.serial, now, p.actor, reason)
            after = replace(before, revoked_at=now, revoked_by=p.actor, revoke_reason=reason)
            tx.add_event(_event(now, p.actor, "agent_certificate.revoke", agent, before, after, reason))
        return after

    # -- for the token endpoint -------------------------------------------------------------------------------

    def authenticate(self, der: bytes, agent: Agent) -> str:
        """The ``x5t#S256`` thumbprint of a client certificate that authenticates ``agent`` now. The agent's and
        its owner's status are the caller's to check.

        Raises:
            InvalidClient: naming the check that failed, never a value from the certificate.
        """
        now = self._clock.now()
        with self._store.reading() as tx:
            record = tx.ca()
            if record is None:
                raise InvalidClient("mutual-TLS client authentication needs Remit's CA, and there is none")
            presented = inspect_certificate(der, self._certificate(record))
            stored = tx.get(presented.serial) if presented is not None else None
        if presented is None:
            raise InvalidClient("the client certificate was not issued by Remit's CA for client authentication")
        if now < presented.not_before:
            raise InvalidClient("the client certificate is not valid yet")
        if now >= presented.not_after:
            raise InvalidClient("the client certificate has expired")
        if stored is None or stored.thumbprint != presented.thumbprint:
            raise InvalidClient("the client certificate is not one Remit issued")
        if stored.revoked_at is not None:
            raise InvalidClient("the client certificate has been revoked")
        if stored.agent != agent.name or agent.spiffe_id not in presented.uris:
            raise InvalidClient("the client certificate was issued to another client")
        return presented.thumbprint

    # -- inside -----------------------------------------------------------------------------------------------

    def _certificate(self, record: CaRecord) -> x509.Certificate:
        parsed = self._parsed.get(record.id)
        if parsed is None:
            parsed = load_pem_certificate(record.certificate_pem)
            with self._lock:
                self._parsed[record.id] = parsed
        return parsed

    def _open(self, record: CaRecord) -> CertificateAuthority:
        kek = self._kek()
        der = kek.decrypt(record.private_enc, context=_context(record.id))
        return CertificateAuthority.load(record.certificate_pem, der)


def ca_view(record: CaRecord) -> dict[str, Any]:
    """What an event (and the API) may say about the CA: never its private key."""
    return {
        "id": record.id,
        "subject": record.subject,
        "key_type": record.key_type,
        "not_before": record.not_before.isoformat(),
        "not_after": record.not_after.isoformat(),
        "created_by": record.created_by,
    }


def _exists(record: CaRecord) -> str:
    return (
        f"Remit's CA already exists ({record.subject}, valid until {record.not_after.date().isoformat()}); it is "
        "never replaced: every agent certificate it issued, and every server's TLS trust in it, would stop working"
    )


def _view(cert: AgentCertificate | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    view = {f: getattr(cert, f) for f in AgentCertificate.__slots__ if f != "certificate_pem"}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in view.items()}


def _context(ca_id: str) -> str:
    """The associated data of the sealed CA key: binds it to its row."""
    return f"certificate authority {ca_id}"


def _event(
    now: datetime,
    actor: str,
    action: str,
    agent: Agent,
    before: AgentCertificate | None,
    after: AgentCertificate,
    reason: str = "",
) -> ChangeEvent:
    extra = {"serial": after.serial, "thumbprint": after.thumbprint}
    return agent_event(now, actor, action, agent, _view(before), _view(after), reason=reason, extra=extra)
