"""Dynamic client registration with ``tls_client_auth`` (RFC 7591 with RFC 8705 §2.1.2) on a server that takes
client certificates: the registered agent gets a certificate from Remit's CA and a certificate-bound token."""

from __future__ import annotations

from typing import Any

import httpx

from remit.container import Remit
from remit.paging import PageRequest
from remit.tokens import jose
from tests.api.test_oauth_mtls import (
    ADMIN,
    RESOURCE,
    SCOPE,
    Agents,
    Tls,
    agents,
    clock,
    server_files,
    settings,
    tls,
)

__all__ = ["agents", "clock", "server_files", "settings", "tls"]  # fixtures used by name


def register(tls: Tls, token: str, metadata: dict[str, Any]) -> httpx.Response:
    with tls.client() as client:
        return client.post("/oauth/register", json=metadata, headers={"Authorization": f"Bearer {token}"})


def initial_token(tls: Tls) -> str:
    with tls.client() as client:
        r = client.post(
            "/v1/registration-tokens", json={"owner": "alice"}, headers={"Authorization": f"Bearer {tls.admin_token}"}
        )
    assert r.status_code == 201, r.text
    value: str = r.json()["token"]
    return value


def test_a_client_registered_for_tls_client_auth_gets_a_bound_token(remit: Remit, agents: Agents, tls: Tls) -> None:
    token = initial_token(tls)
    spiffe = f"spiffe://{remit.settings.trust_domain}/agent/cert-bot"
    r = register(
        tls, token, {"client_name": "cert-bot", "owner": "alice", "token_endpoint_auth_method": "tls_client_auth"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["token_endpoint_auth_method"], body["tls_client_auth_san_uri"]) == ("tls_client_auth", spiffe)
    assert "jwks" not in body and remit.agent_keys.list(ADMIN, "cert-bot") == ()
    remit.refresher.refresh()
    cert, cert_file, key_file = agents.certificate("cert-bot")
    with tls.client((cert_file, key_file)) as client:
        issued = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "cert-bot", "resource": RESOURCE, "scope": SCOPE},
        )
    assert issued.status_code == 200, issued.text
    claims = jose.parse_json_object(jose.parse_compact(issued.json()["access_token"]).payload, "claims")
    assert (claims["sub"], claims["cnf"]) == ("cert-bot", {"x5t#S256": cert.thumbprint})


def test_tls_client_auth_refusals(remit: Remit, tls: Tls) -> None:
    token = initial_token(tls)
    base = {"client_name": "cert-bot", "owner": "alice", "token_endpoint_auth_method": "tls_client_auth"}
    for extra, description in (
        ({"tls_client_auth_san_uri": "spiffe://elsewhere/agent/cert-bot"}, "tls_client_auth_san_uri must be"),
        ({"tls_client_auth_subject_dn": "CN=cert-bot"}, "tls_client_auth_subject_dn is not supported"),
        ({"token_endpoint_auth_method": "self_signed_tls_client_auth"}, "token_endpoint_auth_method must be"),
    ):
        r = register(tls, token, {**base, **extra})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_client_metadata"
        assert r.json()["error_description"].startswith(description)
    [listed] = remit.registration_tokens.list(ADMIN, PageRequest(limit=5)).items
    assert listed.use_count == 0
