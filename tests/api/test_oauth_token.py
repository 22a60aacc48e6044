"""``POST /oauth/token`` over real HTTP: client credentials with private_key_jwt, resource indicators, scopes
checked by the policies; every refusal is an RFC 6749 §5.2 JSON body, never a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.paging import PageRequest
from remit.registry import AgentAction, AgentDraft, ResourceDraft, ResourceKind, UserDraft
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.endpoint import ASSERTION_TYPE
from remit.tokens.verify import KeySet, VerifyPolicy, verify_jwt
from tests.api.conftest import LiveServer

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
POLICY = """@id("helpdesk-reads-tickets")
permit(principal == Agent::"helpdesk", action == Action::"call_tool", resource == Tool::"helpdesk.get_ticket");
"""
RESOURCE = "https://mcp.example.org/helpdesk"
SCOPE = "call_tool:helpdesk.get_ticket"


@pytest.fixture
def agent_key(live: LiveServer) -> jose.SigningKey:
    remit = live.remit
    remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    remit.registry.create_agent(ADMIN, AgentDraft(name="helpdesk", owner="alice"))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    remit.registry.create_resource(
        ADMIN, ResourceDraft(id="helpdesk.get_ticket", kind=ResourceKind.TOOL, parent="helpdesk")
    )
    remit.registry.create_resource(
        ADMIN, ResourceDraft(id="helpdesk.close_ticket", kind=ResourceKind.TOOL, parent="helpdesk")
    )
    remit.policies.apply(ADMIN, POLICY)
    remit.refresher.refresh()
    key = jose.SigningKey.generate("EdDSA")
    remit.agent_keys.add(ADMIN, "helpdesk", key.public_key.to_jwk())
    return key


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as c:
        yield c


def assertion(live: LiveServer, key: jose.SigningKey, **claims: Any) -> str:
    now = int(live.remit.clock.now().timestamp())
    base = {
        "iss": "helpdesk",
        "sub": "helpdesk",
        "aud": f"{live.remit.settings.tokens.issuer}/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": f"a-{time.monotonic_ns()}",
    }
    return jose.sign_jwt({**base, **claims}, key, typ="JWT")


def form(live: LiveServer, key: jose.SigningKey, **params: str) -> dict[str, str]:
    base = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(live, key),
        "resource": RESOURCE,
        "scope": SCOPE,
    }
    return {k: v for k, v in {**base, **params}.items() if v != "-"}


def refused(r: httpx.Response, status: int, error: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert r.headers["cache-control"] == "no-store"
    description: str = body["error_description"]
    return description


def test_token_is_issued_and_verifies_against_the_jwks(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, clock: FrozenClock
) -> None:
    r = client.post("/oauth/token", data=form(live, agent_key, client_id="helpdesk"))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    issued = live.remit.settings.tokens.access_token_seconds
    assert {k: body[k] for k in ("token_type", "expires_in", "scope")} == {
        "token_type": "Bearer",
        "expires_in": issued,
        "scope": SCOPE,
    }
    keys = KeySet.from_jwks(client.get("/.well-known/jwks.json").json())
    issuer = live.remit.settings.tokens.issuer
    token = verify_jwt(body["access_token"], keys, VerifyPolicy.access_token(issuer, RESOURCE), clock.now())
    assert token.header["typ"] == "at+jwt"
    claims = dict(token.claims)
    assert {k: claims[k] for k in ("iss", "sub", "aud", "client_id", "scope")} == {
        "iss": issuer,
        "sub": "helpdesk",
        "aud": RESOURCE,
        "client_id": "helpdesk",
        "scope": SCOPE,
    }
    assert claims["exp"] - claims["iat"] == issued
    [record] = live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items
    assert {k: record[k] for k in ("id", "action", "source", "actor", "principal", "resource")} == {
        "id": claims["jti"],
        "action": "token.issue",
        "source": "token",
        "actor": "agent:helpdesk",
        "principal": {"type": "Agent", "id": "helpdesk"},
        "resource": {"type": "audience", "id": RESOURCE},
    }
    assert record["context"]["scope"] == SCOPE and body["access_token"] not in str(record)

    with live.client(live.admin_token) as admin:
        assert 'remit_tokens_issued_total{grant_type="client_credentials"} 1.0' in admin.get("/metrics").text
    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == issuer and meta["token_endpoint"] == f"{issuer}/oauth/token"
    assert meta["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert meta["token_endpoint_auth_methods_supported"][0] == "private_key_jwt"  # then the legacy key methods
    assert meta["grant_types_supported"] == ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]


def test_client_authentication_failures_are_invalid_client(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, clock: FrozenClock
) -> None:
    once = form(live, agent_key)
    assert client.post("/oauth/token", data=once).status_code == 200
    assert "replay" in refused(client.post("/oauth/token", data=once), 401, "invalid_client")

    old = assertion(live, agent_key, iat=int(clock.now().timestamp()) - 600, exp=int(clock.now().timestamp()) - 300)
    refused(client.post("/oauth/token", data=form(live, agent_key, client_assertion=old)), 401, "invalid_client")
    wrong_aud = assertion(live, agent_key, aud="https://elsewhere.example/oauth/token")
    refused(client.post("/oauth/token", data=form(live, agent_key, client_assertion=wrong_aud)), 401, "invalid_client")
    stranger = jose.SigningKey.generate("EdDSA")  # not registered: its kid is unknown
    unknown_kid = refused(client.post("/oauth/token", data=form(live, stranger)), 401, "invalid_client")
    ghost = assertion(live, agent_key, iss="ghost", sub="ghost")
    unknown_agent = refused(
        client.post("/oauth/token", data=form(live, agent_key, client_assertion=ghost)), 401, "invalid_client"
    )
    assert unknown_agent == unknown_kid  # an agent's existence cannot be probed
    refused(client.post("/oauth/token", data=form(live, agent_key, client_id="billing")), 401, "invalid_client")
    refused(
        client.post("/oauth/token", data=form(live, agent_key, client_assertion="not.a.jwt")), 401, "invalid_client"
    )
    refused(client.post("/oauth/token", data=form(live, agent_key, client_assertion="-")), 401, "invalid_client")
    refused(
        client.post("/oauth/token", data=form(live, agent_key, client_assertion_type="urn:other")),
        401,
        "invalid_client",
    )

    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.SUSPEND, "on leave")
    suspended = refused(client.post("/oauth/token", data=form(live, agent_key)), 401, "invalid_client")
    assert suspended == "the client is suspended"
    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.RESUME, "back")
    [key] = live.remit.agent_keys.list(ADMIN, "helpdesk")
    live.remit.agent_keys.revoke(ADMIN, "helpdesk", key.kid)
    refused(client.post("/oauth/token", data=form(live, agent_key)), 401, "invalid_client")


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**400, -(10**400), 253402300800, -1, True, "soon", {"t": 1}])
def test_a_hostile_date_in_the_assertion_is_invalid_client(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, name: str, value: object
) -> None:
    # the agent's own key signs it, so the claims are read: an integer beyond float range was a 500
    hostile = assertion(live, agent_key, **{name: value})
    description = refused(
        client.post("/oauth/token", data=form(live, agent_key, client_assertion=hostile)), 401, "invalid_client"
    )
    assert f"the '{name}' claim is not a number of seconds" in description
    assert live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items == ()


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_and_infinity_in_the_assertion_are_not_json(
    live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey, literal: bytes
) -> None:
    claims = jose.parse_json_object(jose.parse_compact(assertion(live, agent_key)).payload, "claims")
    payload = json.dumps({**claims, "exp": "EXP"}).encode().replace(b'"EXP"', literal)
    hostile = jose.sign_compact(payload, agent_key, typ="JWT")
    description = refused(
        client.post("/oauth/token", data=form(live, agent_key, client_assertion=hostile)), 401, "invalid_client"
    )
    assert description == "the claims set is not valid JSON"


def test_request_errors(live: LiveServer, client: httpx.Client, agent_key: jose.SigningKey) -> None:
    beyond = form(live, agent_key, scope=f"{SCOPE} call_tool:helpdesk.close_ticket")
    refused(client.post("/oauth/token", data=beyond), 400, "invalid_scope")
    refused(client.post("/oauth/token", data=form(live, agent_key, scope="call_tool:nowhere")), 400, "invalid_scope")
    refused(client.post("/oauth/token", data=form(live, agent_key, scope="-")), 400, "invalid_scope")
    refused(client.post("/oauth/token", data=form(live, agent_key, scope="call_tool:a\x00b")), 400, "invalid_scope")
    refused(client.post("/oauth/token", data=form(live, agent_key, client_id="a\x00b")), 401, "invalid_client")
    nul = assertion(live, agent_key, iss="a\x00b", sub="a\x00b")
    refused(client.post("/oauth/token", data=form(live, agent_key, client_assertion=nul)), 401, "invalid_client")
    refused(client.post("/oauth/token", data=form(live, agent_key, resource="-")), 400, "invalid_target")
    refused(client.post("/oauth/token", data=form(live, agent_key, resource="/relative")), 400, "invalid_target")
    refused(
        client.post("/oauth/token", data=form(live, agent_key, grant_type="authorization_code")),
        400,
        "unsupported_grant_type",
    )
    refused(client.post("/oauth/token", data=form(live, agent_key, grant_type="-")), 400, "invalid_request")
    refused(client.post("/oauth/token", json=form(live, agent_key)), 400, "invalid_request")
    twice = "grant_type=client_credentials&grant_type=client_credentials"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    refused(client.post("/oauth/token", content=twice, headers=headers), 400, "invalid_request")
    refused(client.post("/oauth/token", content=b"\xff\xfe", headers=headers), 400, "invalid_request")
