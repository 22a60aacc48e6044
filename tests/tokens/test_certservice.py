"""Remit's CA and agents' client certificates against the real store: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from sqlalchemy import select

from remit.admin.access import AdminPrincipal
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, NotFound, ValidationError
from remit.paging import PageRequest
from remit.registry import AgentAction
from remit.registry.models import UserStatus
from remit.registry.ports import EventFilter
from remit.registry.service import UserChanges
from remit.store.tables import CertificateAuthorityRow
from remit.tokens.ca import CertificateAuthority, InvalidCsr, certificate_der, parse_csr
from remit.tokens.errors import InvalidClient
from tests.conftest import OwnerFactory
from tests.tokens.certs import agent_key, csr_pem
from tests.tokens.conftest import raised


@pytest.fixture
def ca(remit: Remit, admin: AdminPrincipal, agents: None) -> None:
    remit.certificates.init(admin, organization="Example Corp")


def der_of(pem: str) -> bytes:
    return certificate_der(x509.load_pem_x509_certificate(pem.encode()))


def test_init_once_and_sealed(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    missing = raised(NotFound, remit.certificates.ca)
    assert missing.message == "Remit has no certificate authority yet: an admin makes it with `remit ca init`"
    made = remit.certificates.init(admin, organization="Example Corp", valid_days=365, key_type="ed25519")
    assert (made.subject, made.key_type, made.created_by) == (
        "O=Example Corp,CN=Remit agent CA",
        "ed25519",
        admin.actor,
    )
    assert made.not_after == clock.now() + timedelta(days=365)
    assert remit.certificates.ca() == made
    again = raised(Conflict, lambda: remit.certificates.init(admin))
    assert again.message.startswith("Remit's CA already exists (O=Example Corp,CN=Remit agent CA, valid until 2027-")
    assert "never replaced" in again.message
    with remit.engine.connect() as conn:
        sealed = conn.execute(select(CertificateAuthorityRow.private_enc)).scalar_one()
    assert sealed.startswith("v1.") and "PRIVATE" not in sealed
    [event] = remit.registry.list_events(admin, EventFilter(target_type="certificate_authority"), PageRequest(10)).items
    assert (event.action, event.target_id, event.actor) == ("ca.init", made.id, admin.actor)
    assert "private_enc" not in str(event.after) and sealed not in str(event.after)


def test_init_is_for_admins_and_checks_its_input(
    remit: Remit, admin: AdminPrincipal, auditor: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    for who in (auditor, make_owner("alice")):
        assert raised(Forbidden, lambda who=who: remit.certificates.init(who)).message.startswith("role ")  # type: ignore[misc]
    assert raised(ValidationError, lambda: remit.certificates.init(admin, key_type="rsa")).field == "key_type"
    assert raised(ValidationError, lambda: remit.certificates.init(admin, valid_days=0)).field == "valid_days"


@pytest.mark.usefixtures("ca")
def test_issue_list_revoke(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    key = agent_key("ed25519")
    cert = remit.certificates.issue(alice, "helpdesk", csr_pem(key))
    parsed = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    assert parsed.public_key() == key.public_key()
    assert (cert.agent, cert.spiffe_id, cert.issued_by, cert.issued_at) == (
        "helpdesk",
        "spiffe://remit.local/agent/helpdesk",
        alice.actor,
        clock.now(),
    )
    assert cert.not_after == clock.now() + timedelta(hours=24)  # tokens.certificate_hours
    assert cert.serial == f"{parsed.serial_number:x}" and cert.status(clock.now()) == "active"
    clock.advance(timedelta(seconds=1))
    short = remit.certificates.issue(admin, "helpdesk", csr_pem(agent_key()), valid_for_seconds=600)
    assert short.not_after == clock.now() + timedelta(seconds=600)
    assert [c.serial for c in remit.certificates.list(alice, "helpdesk")] == [cert.serial, short.serial]

    revoked = remit.certificates.revoke(alice, "helpdesk", cert.serial.upper(), "laptop lost")
    assert (revoked.revoked_at, revoked.revoked_by, revoked.revoke_reason) == (clock.now(), alice.actor, "laptop lost")
    assert revoked.status(clock.now()) == "revoked"
    again = raised(Conflict, lambda: remit.certificates.revoke(admin, "helpdesk", cert.serial))
    assert again.message == f"the certificate {cert.serial} is already revoked"
    unknown = raised(NotFound, lambda: remit.certificates.revoke(admin, "billing", cert.serial))
    assert (unknown.field, unknown.message) == ("serial", f"agent 'billing' has no certificate {cert.serial!r}")

    where = EventFilter(target_type="agent", target_id="helpdesk")
    events = remit.registry.list_events(admin, where, PageRequest(limit=100)).items
    changes = [(e.action, e.actor, e.extra["serial"]) for e in events if e.action.startswith("agent_certificate.")]
    assert changes == [
        ("agent_certificate.revoke", alice.actor, cert.serial),
        ("agent_certificate.issue", admin.actor, short.serial),
        ("agent_certificate.issue", alice.actor, cert.serial),
    ]
    assert events[0].reason == "laptop lost" and events[0].extra["owner"] == "alice"
    assert "certificate_pem" not in (events[0].after or {})


@pytest.mark.usefixtures("ca")
def test_issue_refusals(remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    csr = csr_pem(agent_key())
    bad = raised(InvalidCsr, lambda: remit.certificates.issue(admin, "helpdesk", "nonsense"))
    assert (bad.code, bad.field) == ("invalid_csr", "csr")
    for seconds in (59, 168 * 3600 + 1):
        out = raised(ValidationError, lambda s=seconds: remit.certificates.issue(admin, "helpdesk", csr, s))  # type: ignore[misc]
        assert (out.field, out.message) == (
            "valid_for_seconds",
            "valid_for_seconds is between 60 and 604800 (tokens.max_certificate_hours)",
        )
    hidden = raised(NotFound, lambda: remit.certificates.issue(alice, "billing", csr))
    assert hidden.message == "no such agent 'billing'"
    assert raised(NotFound, lambda: remit.certificates.list(alice, "billing")).message == "no such agent 'billing'"
    assert raised(NotFound, lambda: remit.certificates.issue(admin, "nobody", csr)).field == "name"

    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.SUSPEND, "testing")
    suspended = raised(Conflict, lambda: remit.certificates.issue(alice, "helpdesk", csr))
    assert suspended.message == "agent 'helpdesk' is suspended: certificates go to active agents only"
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.RESUME, "testing")
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.QUARANTINE, "testing")
    quarantined = raised(Forbidden, lambda: remit.certificates.issue(alice, "helpdesk", csr))
    assert quarantined.message == "role owner may not agent_cert.issue"
    remit.registry.update_user(admin, "bob", UserChanges(status=UserStatus.DISABLED))
    disabled = raised(Conflict, lambda: remit.certificates.issue(admin, "billing", csr))
    assert disabled.message == "the owner of agent 'billing' is disabled: no certificate is issued"
    assert remit.certificates.list(admin, "helpdesk") == () and remit.certificates.list(admin, "billing") == ()


@pytest.mark.usefixtures("agents")
def test_issue_needs_a_ca(remit: Remit, admin: AdminPrincipal) -> None:
    refused = raised(Conflict, lambda: remit.certificates.issue(admin, "helpdesk", csr_pem(agent_key())))
    assert refused.message == "Remit has no certificate authority yet: an admin makes it with `remit ca init`"
    helpdesk = remit.registry.get_agent(admin, "helpdesk")
    no_ca = raised(InvalidClient, lambda: remit.certificates.authenticate(b"x", helpdesk))
    assert no_ca.message == "mutual-TLS client authentication needs Remit's CA, and there is none"


@pytest.mark.usefixtures("ca")
def test_authenticate(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    helpdesk = remit.registry.get_agent(admin, "helpdesk")
    billing = remit.registry.get_agent(admin, "billing")
    cert = remit.certificates.issue(admin, "helpdesk", csr_pem(agent_key()), valid_for_seconds=3600)
    der = der_of(cert.certificate_pem)
    assert remit.certificates.authenticate(der, helpdesk) == cert.thumbprint

    def refusal(der: bytes, agent: object = helpdesk) -> str:
        return raised(InvalidClient, lambda: remit.certificates.authenticate(der, agent)).message  # type: ignore[arg-type]

    assert refusal(der, billing) == "the client certificate was issued to another client"
    foreign = CertificateAuthority.create(organization="Example Corp", now=clock.now(), valid_for=timedelta(days=1))
    forged = foreign.issue(
        parse_csr(csr_pem(agent_key())),
        agent="helpdesk",
        spiffe_id=helpdesk.spiffe_id,
        now=clock.now(),
        valid_for=timedelta(hours=1),
    )
    assert refusal(certificate_der(forged)) == (
        "the client certificate was not issued by Remit's CA for client authentication"
    )
    clock.advance(timedelta(seconds=3600))
    assert refusal(der) == "the client certificate has expired"
    clock.advance(timedelta(seconds=-7200))
    assert refusal(der) == "the client certificate is not valid yet"
    clock.advance(timedelta(seconds=3600))
    remit.certificates.revoke(admin, "helpdesk", cert.serial)
    assert refusal(der) == "the client certificate has been revoked"
