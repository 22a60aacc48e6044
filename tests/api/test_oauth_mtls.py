"""Mutual-TLS client authentication and certificate-bound tokens (RFC 8705) end to end: a real uvicorn server on
127.0.0.1 speaking TLS with ``remit.api.tls``'s options, httpx clients presenting certificates from Remit's CA."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.api.app import create_app
from remit.api.tls import server_options
from remit.clock import FrozenClock
from remit.container import Remit
from remit.paging import PageRequest
from remit.registry import AgentAction, AgentDraft, ResourceDraft, ResourceKind, UserDraft
from remit.settings import Settings, load_settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.certificates import AgentCertificate
from remit.tokens.endpoint import ASSERTION_TYPE
from remit.tokens.errors import InvalidToken
from remit.tokens.verify import Binding
from tests.servers import uvicorn_serving
from tests.tokens.certs import agent_key, csr_pem, key_pem, server_certificate

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
POLICY = """@id("agents-read-tickets")
permit(principal, action == Action::"call_tool", resource == Tool::"helpdesk.get_ticket");
"""
RESOURCE = "https://mcp.example.org/helpdesk"
SCOPE = "call_tool:helpdesk.get_ticket"
PROXY_HEADER = "x-client-cert"


@pytest.fixture
def clock() -> FrozenClock:
    """Near the wall clock: the TLS layer checks certificate validity with the real time, the app with this one."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def server_files(tmp_path: Path) -> tuple[Path, Path]:
    return server_certificate(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, server_files: tuple[Path, Path]) -> Settings:
    cert_file, key_file = server_files
    return load_settings(
        home=tmp_path,
        database_url=database_url,
        api={
            "tls_cert_file": cert_file,
            "tls_key_file": key_file,
            "client_cert_header": PROXY_HEADER,
            "trusted_proxies": ["127.0.0.1"],
        },
    )


class Agents:
    """The estate: agents helpdesk and billing of alice, Remit's CA, a policy letting both read tickets."""

    def __init__(self, remit: Remit, tmp_path: Path) -> None:
        self.remit = remit
        self.tmp_path = tmp_path
        remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
        for name in ("helpdesk", "billing"):
            remit.registry.create_agent(ADMIN, AgentDraft(name=name, owner="alice"))
        remit.registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
        remit.registry.create_resource(
            ADMIN, ResourceDraft(id="helpdesk.get_ticket", kind=ResourceKind.TOOL, parent="helpdesk")
        )
        remit.policies.apply(ADMIN, POLICY)
        remit.refresher.refresh()
        remit.certificates.init(ADMIN)

    def certificate(self, agent: str) -> tuple[AgentCertificate, Path, Path]:
        """A key made here (as the agent would), its certificate from Remit's CA, and the two files."""
        key = agent_key("p256")
        cert = self.remit.certificates.issue(ADMIN, agent, csr_pem(key))
        stem = self.tmp_path / f"{agent}-{cert.serial}"
        cert_file, key_file = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_file.write_text(cert.certificate_pem)
        key_file.write_bytes(key_pem(key))
        return cert, cert_file, key_file


@pytest.fixture
def agents(remit: Remit, tmp_path: Path) -> Agents:
    return Agents(remit, tmp_path)


@contextmanager
def running(remit: Remit, options: dict[str, Any]) -> Iterator[int]:
    """uvicorn serving ``create_app`` on an ephemeral loopback port with ``options``; yields the port."""
    with uvicorn_serving(create_app(remit.settings, remit=remit), **options) as port:
        yield port


class Tls:
    """The TLS server (and a plain-HTTP one standing for a TLS-terminating proxy's upstream) over one estate."""

    def __init__(self, port: int, plain_port: int, server_cert: Path, admin_token: str) -> None:
        self.url = f"https://127.0.0.1:{port}"
        self.plain_url = f"http://127.0.0.1:{plain_port}"
        self.server_cert = server_cert
        self.admin_token = admin_token

    def client(self, cert: tuple[Path, Path] | None = None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.server_cert))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        return httpx.Client(base_url=self.url, verify=context, timeout=10)


@pytest.fixture
def tls(remit: Remit, agents: Agents, server_files: tuple[Path, Path]) -> Iterator[Tls]:
    options = server_options(remit.settings, remit.certificates.ca().certificate_pem)
    assert options["ssl_cert_reqs"] == ssl.CERT_OPTIONAL
    assert Path(options["ssl_ca_certs"]) == remit.settings.home / "agent-ca.pem"
    hardened = options["ssl_context_factory"](None, lambda: ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
    assert hardened.minimum_version == ssl.TLSVersion.TLSv1_2 and hardened.options & ssl.OP_NO_RENEGOTIATION
    _, admin_token = remit.admin_tokens.bootstrap("test:setup")
    with running(remit, options) as port, running(remit, {}) as plain_port:
        yield Tls(port, plain_port, server_files[0], admin_token)


def form(**params: str) -> dict[str, str]:
    base = {"grant_type": "client_credentials", "client_id": "helpdesk", "resource": RESOURCE, "scope": SCOPE}
    return {k: v for k, v in {**base, **params}.items() if v != "-"}


def refused(r: httpx.Response) -> str:
    assert r.status_code == 401, r.text
    body = r.json()
    assert (set(body), body["error"]) == ({"error", "error_description"}, "invalid_client")
    assert r.headers["cache-control"] == "no-store"
    description: str = body["error_description"]
    return description


def test_a_certificate_from_remits_ca_gets_a_bound_token(remit: Remit, agents: Agents, tls: Tls) -> None:
    cert, cert_file, key_file = agents.certificate("helpdesk")
    with tls.client((cert_file, key_file)) as client:
        r = client.post("/oauth/token", data=form())
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["token_type"], body["scope"]) == ("Bearer", SCOPE)
        token = body["access_token"]
        claims = jose.parse_json_object(jose.parse_compact(token).payload, "claims")
        assert (claims["sub"], claims["cnf"]) == ("helpdesk", {"x5t#S256": cert.thumbprint})

        meta = client.get("/.well-known/oauth-authorization-server").json()
        assert meta["token_endpoint_auth_methods_supported"][:2] == ["private_key_jwt", "tls_client_auth"]
        assert meta["tls_client_certificate_bound_access_tokens"] is True

    # the checking side: the token verifies only with its certificate (RFC 8705 §3)
    verifier = remit.token_verifier(RESOURCE)
    assert verifier.verify(token, Binding(certificate_thumbprint=cert.thumbprint)).cnf_x5t_s256 == cert.thumbprint
    other, _, _ = agents.certificate("helpdesk")
    for binding, message in (
        (Binding(), "the token is bound to a client certificate, and none was presented"),
        (Binding(certificate_thumbprint=other.thumbprint), "the token is bound to another client certificate"),
    ):
        with pytest.raises(InvalidToken) as bad:
            verifier.verify(token, binding)
        assert (bad.value.code, bad.value.status, bad.value.message) == ("invalid_token", 401, message)

    # introspection reports the binding (RFC 8705 §3.2)
    with tls.client() as client:
        seen = client.post(
            "/oauth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {tls.admin_token}"}
        ).json()
    assert (seen["active"], seen["cnf"], seen["token_type"]) == (True, {"x5t#S256": cert.thumbprint}, "Bearer")

    records = remit.audit.query(ADMIN, AuditFilter(action="token.issue"), PageRequest(limit=10)).items
    assert [r["context"].get("x5t#S256") for r in records] == [cert.thumbprint]


def test_without_a_certificate_other_endpoints_work_and_the_token_endpoint_refuses(tls: Tls) -> None:
    with tls.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/ca").status_code == 200
        assert "client_assertion_type" in refused(client.post("/oauth/token", data=form()))


def test_refused_certificates(remit: Remit, agents: Agents, tls: Tls, clock: FrozenClock) -> None:
    helpdesk, cert_file, key_file = agents.certificate("helpdesk")
    with tls.client((cert_file, key_file)) as client:
        assert refused(client.post("/oauth/token", data=form(client_id="billing"))) == (
            "the client certificate was issued to another client"
        )
        assert refused(client.post("/oauth/token", data=form(client_id="nobody"))) == (
            "the client certificate was issued to another client"
        )
        assert "client_id" in refused(client.post("/oauth/token", data=form(client_id="-")))

        clock.advance(timedelta(hours=25))  # past notAfter for the app; the TLS layer still accepts it
        assert refused(client.post("/oauth/token", data=form())) == "the client certificate has expired"
        clock.advance(timedelta(hours=-25))
        assert client.post("/oauth/token", data=form()).status_code == 200

        remit.certificates.revoke(ADMIN, "helpdesk", helpdesk.serial, "lost")
        assert refused(client.post("/oauth/token", data=form())) == "the client certificate has been revoked"

    _, cert_file, key_file = agents.certificate("billing")
    remit.registry.change_agent_status(ADMIN, "billing", AgentAction.SUSPEND, "x")
    with tls.client((cert_file, key_file)) as client:
        assert refused(client.post("/oauth/token", data=form(client_id="billing"))) == "the client is suspended"


def test_a_private_key_jwt_request_over_mtls_is_bound_too(remit: Remit, agents: Agents, tls: Tls) -> None:
    signing = jose.SigningKey.generate("EdDSA")
    remit.agent_keys.add(ADMIN, "helpdesk", signing.public_key.to_jwk())
    cert, cert_file, key_file = agents.certificate("helpdesk")
    billing_cert, billing_file, billing_key = agents.certificate("billing")

    def assertion() -> str:
        now = int(remit.clock.now().timestamp())
        claims = {
            "iss": "helpdesk",
            "sub": "helpdesk",
            "aud": f"{remit.settings.tokens.issuer}/oauth/token",
            "iat": now,
            "exp": now + 60,
            "jti": f"a-{time.monotonic_ns()}",
        }
        return jose.sign_jwt(claims, signing, typ="JWT")

    with_assertion = {"client_assertion_type": ASSERTION_TYPE}
    with tls.client((cert_file, key_file)) as client:
        r = client.post("/oauth/token", data=form(**with_assertion, client_assertion=assertion()))
        assert r.status_code == 200, r.text
        claims = jose.parse_json_object(jose.parse_compact(r.json()["access_token"]).payload, "claims")
        assert claims["cnf"] == {"x5t#S256": cert.thumbprint}
    with tls.client((billing_file, billing_key)) as client:  # authenticated as helpdesk, billing's certificate
        r = client.post("/oauth/token", data=form(**with_assertion, client_assertion=assertion()))
        assert refused(r) == "the client certificate was issued to another client"
    assert billing_cert.agent == "billing"


def test_a_trusted_proxy_forwards_the_certificate(remit: Remit, agents: Agents, tls: Tls) -> None:
    cert, _, _ = agents.certificate("helpdesk")
    forwarded = {PROXY_HEADER: quote(cert.certificate_pem, safe="")}
    with httpx.Client(base_url=tls.plain_url, timeout=10) as proxy:  # 127.0.0.1 is api.trusted_proxies
        r = proxy.post("/oauth/token", data=form(), headers=forwarded)
        assert r.status_code == 200, r.text
        claims = jose.parse_json_object(jose.parse_compact(r.json()["access_token"]).payload, "claims")
        assert claims["cnf"] == {"x5t#S256": cert.thumbprint}
        assert "client_assertion_type" in refused(proxy.post("/oauth/token", data=form()))
        garbage = refused(proxy.post("/oauth/token", data=form(), headers={PROXY_HEADER: "not%20a%20cert"}))
        assert "client_assertion_type" in garbage
    with tls.client() as client:  # on a TLS connection the header is never read: only the connection's certificate
        assert "client_assertion_type" in refused(client.post("/oauth/token", data=form(), headers=forwarded))


def test_token_exchange_over_mtls_binds_and_a_bound_subject_token_stays_with_its_certificate(
    remit: Remit, agents: Agents, tls: Tls
) -> None:
    helpdesk_key = jose.SigningKey.generate("EdDSA")
    remit.agent_keys.add(ADMIN, "helpdesk", helpdesk_key.public_key.to_jwk())
    billing = remit.registry.get_agent(ADMIN, "billing").spiffe_id
    exchange = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "client_id": "billing",
        "resource": RESOURCE,
    }
    billing_cert, *billing_files = agents.certificate("billing")
    helpdesk_cert, *helpdesk_files = agents.certificate("helpdesk")

    # a token the helpdesk gets over mutual TLS is bound to its certificate: the billing agent cannot exchange it
    with tls.client((helpdesk_files[0], helpdesk_files[1])) as client:
        bound = client.post("/oauth/token", data=form(resource=billing)).json()["access_token"]
    with tls.client((billing_files[0], billing_files[1])) as client:
        r = client.post("/oauth/token", data={**exchange, "subject_token": bound})
    assert r.status_code == 400 and "another client certificate" in r.json()["error_description"], r.text

    # a bearer token the helpdesk addressed to the billing agent is exchanged over mutual TLS, and bound
    now = int(remit.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": "helpdesk",
        "sub": "helpdesk",
        "aud": f"{remit.settings.tokens.issuer}/oauth/token",
    }
    assertion = jose.sign_jwt(
        {**claims, "iat": now, "exp": now + 60, "jti": f"a-{time.monotonic_ns()}"}, helpdesk_key, typ="JWT"
    )
    with tls.client() as client:  # no client certificate: a bearer token
        handed = client.post(
            "/oauth/token",
            data=form(
                client_id="-", client_assertion_type=ASSERTION_TYPE, client_assertion=assertion, resource=billing
            ),
        )
    assert handed.status_code == 200, handed.text
    assert "cnf" not in jose.parse_json_object(jose.parse_compact(handed.json()["access_token"]).payload, "claims")
    with tls.client((billing_files[0], billing_files[1])) as client:
        r = client.post("/oauth/token", data={**exchange, "subject_token": handed.json()["access_token"]})
    assert r.status_code == 200, r.text
    delegated = jose.parse_json_object(jose.parse_compact(r.json()["access_token"]).payload, "claims")
    assert (delegated["sub"], delegated["act"], delegated["cnf"]) == (
        "helpdesk",
        {"sub": "billing"},
        {"x5t#S256": billing_cert.thumbprint},
    )
    assert helpdesk_cert.thumbprint != billing_cert.thumbprint


def test_an_agent_revokes_its_token_over_mtls(remit: Remit, agents: Agents, tls: Tls) -> None:
    _, *helpdesk = agents.certificate("helpdesk")
    _, *billing = agents.certificate("billing")
    with tls.client((helpdesk[0], helpdesk[1])) as client:
        token = client.post("/oauth/token", data=form()).json()["access_token"]
        meta = client.get("/.well-known/oauth-authorization-server").json()
    assert "tls_client_auth" in meta["revocation_endpoint_auth_methods_supported"]
    introspect = {"Authorization": f"Bearer {tls.admin_token}"}
    with tls.client((billing[0], billing[1])) as client:  # another agent's certificate: 200, and nothing revoked
        assert client.post("/oauth/revoke", data={"token": token, "client_id": "billing"}).status_code == 200
        assert client.post("/oauth/introspect", data={"token": token}, headers=introspect).json()["active"] is True
        r = client.post("/oauth/revoke", data={"token": token, "client_id": "helpdesk"})
        assert "another client" in refused(r)
    with tls.client() as client:  # no certificate and no assertion
        assert "client_assertion" in refused(client.post("/oauth/revoke", data={"token": token}))
    with tls.client((helpdesk[0], helpdesk[1])) as client:
        assert client.post("/oauth/revoke", data={"token": token, "client_id": "helpdesk"}).status_code == 200
        assert client.post("/oauth/introspect", data={"token": token}, headers=introspect).json() == {"active": False}
    [record] = remit.audit.query(ADMIN, AuditFilter(action="token.revoke"), PageRequest(limit=5)).items
    assert record["actor"] == "agent:helpdesk"
