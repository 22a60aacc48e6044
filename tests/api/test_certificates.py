"""``/v1/ca`` and ``/v1/agents/{name}/certificates`` over real HTTP: Remit's CA, and agents' client certificates
issued, listed and revoked, with owner scoping and bad input answered 4xx naming the field."""

from __future__ import annotations

import httpx
from cryptography import x509

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from tests.api.conftest import LiveServer, TokenFactory
from tests.tokens.certs import agent_key, csr_pem, tampered


def _agents(client: httpx.Client) -> None:
    for name, owner in (("helpdesk", "alice"), ("billing", "bob")):
        assert client.post("/v1/agents", json={"name": name, "owner": owner}).status_code == 201


def test_ca_is_made_once_and_public(live: LiveServer, admin_client: httpx.Client, mint: TokenFactory) -> None:
    with live.client() as anonymous:
        missing = anonymous.get("/v1/ca")
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
        assert anonymous.post("/v1/ca", json={}).status_code == 401
        with live.client(mint(AdminRole.AUDITOR)) as auditor:
            assert auditor.post("/v1/ca", json={}).status_code == 403
        made = admin_client.post("/v1/ca", json={"organization": "Example Corp", "key_type": "ed25519"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["subject"], body["key_type"]) == ("O=Example Corp,CN=Remit agent CA", "ed25519")
        assert "PRIVATE" not in made.text
        shown = anonymous.get("/v1/ca")  # the CA certificate is public
        assert shown.status_code == 200 and shown.json() == body
        ca = x509.load_pem_x509_certificate(shown.json()["certificate"].encode())
        assert ca.subject.rfc4514_string() == body["subject"]
    again = admin_client.post("/v1/ca")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    bad = admin_client.post("/v1/ca", json={"key_type": "rsa"})
    assert (bad.status_code, bad.json()["field"]) == (422, "key_type")


def test_issue_list_revoke(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory, clock: FrozenClock
) -> None:
    _agents(admin_client)
    assert admin_client.post("/v1/ca").status_code == 201
    key = agent_key("p384")
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        issued = alice.post("/v1/agents/helpdesk/certificates", json={"csr": csr_pem(key), "valid_for_seconds": 3600})
        assert issued.status_code == 201, issued.text
        cert = issued.json()
        assert (cert["agent"], cert["spiffe_id"], cert["status"], cert["revoked_at"]) == (
            "helpdesk",
            "spiffe://remit.local/agent/helpdesk",
            "active",
            None,
        )
        assert cert["not_after"] == "2026-01-01T01:00:00Z"
        parsed = x509.load_pem_x509_certificate(cert["certificate"].encode())
        assert parsed.public_key() == key.public_key() and f"{parsed.serial_number:x}" == cert["serial"]

        listed = alice.get("/v1/agents/helpdesk/certificates").json()
        assert [c["serial"] for c in listed["items"]] == [cert["serial"]] and listed["next_cursor"] is None

        revoked = alice.delete(f"/v1/agents/helpdesk/certificates/{cert['serial']}", params={"reason": "rotated"})
        assert revoked.status_code == 200, revoked.text
        assert (revoked.json()["status"], revoked.json()["revoke_reason"]) == ("revoked", "rotated")
        again = alice.delete(f"/v1/agents/helpdesk/certificates/{cert['serial']}")
        assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_bad_input_names_the_field(admin_client: httpx.Client, users: list[str]) -> None:
    _agents(admin_client)
    assert admin_client.post("/v1/ca").status_code == 201
    good = csr_pem(agent_key())
    cases = {
        "garbage": (
            {"csr": "hello"},
            "csr",
            "the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----",
        ),
        "signature": ({"csr": tampered(good)}, "csr", "the CSR's signature does not verify with its own key"),
        "rsa1024": (
            {"csr": csr_pem(agent_key("rsa1024"))},
            "csr",
            "the CSR's RSA key has 1024 bits; agent keys are EC P-256 or P-384, Ed25519, or RSA of 2048 bits or more",
        ),
        "too-long": (
            {"csr": good, "valid_for_seconds": 10**7},
            "valid_for_seconds",
            "valid_for_seconds is between 60 and 604800 (tokens.max_certificate_hours)",
        ),
    }
    for case, (body, field, message) in cases.items():
        r = admin_client.post("/v1/agents/helpdesk/certificates", json=body)
        assert r.status_code == 422, case
        assert (r.json()["field"], r.json()["message"]) == (field, message), case
    for body in ({}, {"csr": good, "extra": 1}, {"csr": 5}):
        r = admin_client.post("/v1/agents/helpdesk/certificates", json=body)
        assert r.status_code == 422 and r.json()["field"] in ("csr", "extra"), r.text
    bad_serial = admin_client.delete("/v1/agents/helpdesk/certificates/not-hex")
    assert (bad_serial.status_code, bad_serial.json()["field"]) == (422, "serial")
    assert admin_client.get("/v1/agents/helpdesk/certificates").json()["items"] == []


def test_owners_manage_only_their_own_agents(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    _agents(admin_client)
    assert admin_client.post("/v1/ca").status_code == 201
    bobs = admin_client.post("/v1/agents/billing/certificates", json={"csr": csr_pem(agent_key())}).json()
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        for r in (
            alice.post("/v1/agents/billing/certificates", json={"csr": csr_pem(agent_key())}),
            alice.get("/v1/agents/billing/certificates"),
            alice.delete(f"/v1/agents/billing/certificates/{bobs['serial']}"),
        ):
            assert r.status_code == 404
            assert (r.json()["code"], r.json()["message"]) == ("not_found", "no such agent 'billing'")
        assert alice.post("/v1/ca").status_code == 403
    suspended = admin_client.post("/v1/agents/helpdesk/suspend", json={"reason": "testing"})
    assert suspended.status_code == 200, suspended.text
    refused = admin_client.post("/v1/agents/helpdesk/certificates", json={"csr": csr_pem(agent_key())})
    assert (refused.status_code, refused.json()["message"]) == (
        409,
        "agent 'helpdesk' is suspended: certificates go to active agents only",
    )
