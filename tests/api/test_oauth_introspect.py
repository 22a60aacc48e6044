"""``POST /oauth/revoke`` (RFC 7009) and ``POST /oauth/introspect`` (RFC 7662) over real HTTP: a revocation
applies on the very next request, on every server of the store; a client revokes only its own tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.paging import PageRequest
from remit.registry import AgentAction, AgentDraft
from remit.settings import Settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.endpoint import ASSERTION_TYPE
from tests.api.conftest import LiveServer, TokenFactory
from tests.api.test_oauth_token import ADMIN, RESOURCE, SCOPE, agent_key, assertion, client, form, refused

__all__ = ["agent_key", "client"]  # fixtures re-used from the token endpoint's tests


def issue(live: LiveServer, client: httpx.Client, key: jose.SigningKey) -> str:
    r = client.post("/oauth/token", data=form(live, key))
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def revoke(live: LiveServer, client: httpx.Client, key: jose.SigningKey, token: str, iss: str = "helpdesk") -> None:
    data = {
        "token": token,
        "token_type_hint": "access_token",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(live, key, iss=iss, sub=iss),
    }
    r = client.post("/oauth/revoke", data=data)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"


@pytest.fixture
def pep(live: LiveServer, mint: TokenFactory) -> Iterator[httpx.Client]:
    with live.client(mint(AdminRole.PEP)) as c:
        yield c


def introspect(pep: httpx.Client, token: str) -> dict[str, object]:
    r = pep.post("/oauth/introspect", data={"token": token})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, object] = r.json()
    return body


def test_a_revoked_token_is_inactive_on_the_next_request_on_every_server(
    live: LiveServer,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    token = issue(live, client, agent_key)
    answer = introspect(pep, token)
    assert answer["active"] is True
    assert {k: answer[k] for k in ("scope", "client_id", "sub", "aud", "iss", "token_type")} == {
        "scope": SCOPE,
        "client_id": "helpdesk",
        "sub": "helpdesk",
        "aud": RESOURCE,
        "iss": live.remit.settings.tokens.issuer,
        "token_type": "Bearer",
    }
    assert isinstance(answer["exp"], int) and isinstance(answer["iat"], int) and answer["jti"]
    second = Remit.from_settings(settings, clock=clock, migrate_schema=False)  # a second server on the store
    second.audit_log.start()  # as a server does: its introspections are recorded
    try:
        assert second.introspection.introspect({"token": [token]})["active"] is True
        revoke(live, client, agent_key, token)
        assert introspect(pep, token) == {"active": False}
        assert second.introspection.introspect({"token": [token]}) == {"active": False}
    finally:
        second.close()
    revoke(live, client, agent_key, token)  # again: still 200, recorded once
    records = live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items
    [record] = [r for r in records if r["action"] == "token.revoke"]
    assert record["resource"] == {"type": "access_token", "id": answer["jti"]}
    assert record["actor"] == "agent:helpdesk"
    assert token not in json.dumps(record)


def test_a_suspended_agents_token_is_inactive(
    live: LiveServer, client: httpx.Client, pep: httpx.Client, agent_key: jose.SigningKey
) -> None:
    token = issue(live, client, agent_key)
    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.SUSPEND, "on leave")
    assert introspect(pep, token) == {"active": False}
    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.RESUME, "back")
    assert introspect(pep, token)["active"] is True


def test_a_client_cannot_revoke_another_clients_token(
    live: LiveServer, client: httpx.Client, pep: httpx.Client, agent_key: jose.SigningKey
) -> None:
    token = issue(live, client, agent_key)
    live.remit.registry.create_agent(ADMIN, AgentDraft(name="intruder", owner="alice"))
    other = jose.SigningKey.generate("EdDSA")
    live.remit.agent_keys.add(ADMIN, "intruder", other.public_key.to_jwk())
    revoke(live, client, other, token, iss="intruder")
    assert introspect(pep, token)["active"] is True


def test_garbage_tokens_are_inactive_and_revoking_them_is_200(
    live: LiveServer, client: httpx.Client, pep: httpx.Client, agent_key: jose.SigningKey
) -> None:
    for garbage in ("x", "a.b.c", assertion(live, agent_key)):
        assert introspect(pep, garbage) == {"active": False}
        revoke(live, client, agent_key, garbage)


def test_revocation_needs_client_authentication(live: LiveServer, client: httpx.Client) -> None:
    r = client.post("/oauth/revoke", data={"token": "x"})
    refused(r, 401, "invalid_client")


def test_introspection_needs_an_admin_bearer(
    live: LiveServer, client: httpx.Client, mint: TokenFactory, users: list[str]
) -> None:
    r = client.post("/oauth/introspect", data={"token": "x"})
    assert r.status_code == 401, r.text
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as owner:
        assert owner.post("/oauth/introspect", data={"token": "x"}).status_code == 403
    with live.client(mint(AdminRole.AUDITOR)) as auditor:
        assert auditor.post("/oauth/introspect", data={"token": "x"}).json() == {"active": False}


def test_malformed_forms_are_rfc_errors(live: LiveServer, client: httpx.Client, pep: httpx.Client) -> None:
    refused(pep.post("/oauth/introspect", json={"token": "x"}), 400, "invalid_request")
    refused(pep.post("/oauth/introspect", data={"token": ["a", "b"]}), 400, "invalid_request")
    refused(pep.post("/oauth/introspect", data={}), 400, "invalid_request")
    refused(
        client.post("/oauth/revoke", content=b"\xff", headers={"content-type": "application/x-www-form-urlencoded"}),
        400,
        "invalid_request",
    )
    refused(client.post("/oauth/revoke", data={}), 400, "invalid_request")


def test_metadata_names_both_endpoints(live: LiveServer, client: httpx.Client) -> None:
    body = client.get("/.well-known/oauth-authorization-server").json()
    issuer = live.remit.settings.tokens.issuer
    assert body["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert body["introspection_endpoint"] == f"{issuer}/oauth/introspect"


def test_every_introspection_is_recorded_without_the_token(
    live: LiveServer, client: httpx.Client, pep: httpx.Client, agent_key: jose.SigningKey
) -> None:
    token = issue(live, client, agent_key)
    jti = jose.parse_json_object(jose.parse_compact(token).payload, "claims")["jti"]
    assert introspect(pep, token)["active"] is True
    assert introspect(pep, "not-a-token") == {"active": False}
    records = live.remit.audit.query(ADMIN, AuditFilter(action="token.introspect"), PageRequest(limit=10)).items
    garbage, seen = records  # newest first
    caller = pep.get("/v1/whoami").json()["actor"]
    assert (seen["actor"], seen["principal"], seen["resource"]) == (
        caller,
        {"type": "Agent", "id": "helpdesk"},
        {"type": "access_token", "id": jti},
    )
    assert seen["context"] == {"active": True, "aud": RESOURCE}
    assert (garbage["actor"], garbage["context"], "resource" in garbage) == (caller, {"active": False}, False)
    assert token not in str(records)
