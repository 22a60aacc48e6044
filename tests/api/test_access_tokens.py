"""``POST /v1/tokens/revoke``: admins revoke any agent's access token, owners their own agents', by the token or by
its ``jti`` and agent; the token is inactive on the very next request on every server; each revocation is audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.paging import PageRequest
from remit.registry import AgentDraft, UserDraft
from remit.settings import Settings
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.endpoint import sign_claims
from remit.tokens.errors import InvalidToken
from remit.tokens.keys import CLOCK_LEEWAY
from remit.tokens.verify import MAX_NUMERIC_DATE
from tests.api.conftest import LiveServer, TokenFactory
from tests.api.test_oauth_introspect import introspect, issue, pep, revoke
from tests.api.test_oauth_token import ADMIN, RESOURCE, agent_key, client

__all__ = ["agent_key", "client", "pep"]  # fixtures re-used from the token endpoint's tests


def problem(r: httpx.Response, status: int, code: str, field: str | None = None) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert (body["code"], body.get("field")) == (code, field), body
    message: str = body["message"]
    return message


@pytest.fixture
def second(settings: Settings, clock: FrozenClock, live: LiveServer) -> Iterator[Remit]:
    other = Remit.from_settings(settings, clock=clock, migrate_schema=False)
    try:
        yield other
    finally:
        other.close()


def test_an_admin_revokes_by_token_and_every_server_refuses_it_next(
    live: LiveServer,
    admin_client: httpx.Client,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
    second: Remit,
) -> None:
    token = issue(live, client, agent_key)
    jti = introspect(pep, token)["jti"]
    verifier = second.token_verifier(RESOURCE)
    verifier.verify(token)  # cached on the other server
    r = admin_client.post("/v1/tokens/revoke", json={"token": token, "reason": "leaked in a log"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["jti"], body["agent"], body["already_revoked"]) == (jti, "helpdesk", False)
    assert introspect(pep, token) == {"active": False}
    with pytest.raises(InvalidToken, match="been revoked"):
        verifier.verify(token)
    again = admin_client.post("/v1/tokens/revoke", json={"token": token})
    assert again.status_code == 200 and again.json()["already_revoked"] is True
    records = live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=20)).items
    [record] = [r for r in records if r["action"] == "token.revoke"]
    assert record["actor"].startswith("token:") and record["source"] == "admin"
    assert record["resource"] == {"type": "access_token", "id": jti}
    assert record["principal"] == {"type": "Agent", "id": "helpdesk", "owner": "alice"}
    assert record["context"] == {"reason": "leaked in a log", "by": "token"}
    assert token not in json.dumps(record)


def test_revocation_by_jti_and_agent(
    live: LiveServer,
    admin_client: httpx.Client,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
    clock: FrozenClock,
) -> None:
    token = issue(live, client, agent_key)
    jti = introspect(pep, token)["jti"]
    r = admin_client.post("/v1/tokens/revoke", json={"jti": jti, "agent": "helpdesk"})
    assert r.status_code == 200, r.text
    max_lifetime = live.remit.settings.tokens.max_access_token_seconds
    until = clock.now() + timedelta(seconds=max_lifetime) + CLOCK_LEEWAY  # outlives any token issued before
    assert r.json()["revoked_until"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert introspect(pep, token) == {"active": False}


def test_owners_revoke_only_their_own_agents_tokens(
    live: LiveServer,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
    mint: TokenFactory,
) -> None:
    live.remit.registry.create_user(ADMIN, UserDraft(id="bob", email="bob@example.org"))
    live.remit.registry.create_agent(ADMIN, AgentDraft(name="billing", owner="bob"))
    token = issue(live, client, agent_key)
    with live.client(mint(AdminRole.OWNER, user_id="bob")) as bob:
        message = problem(bob.post("/v1/tokens/revoke", json={"token": token}), 404, "not_found", "name")
        assert message == "no such agent 'helpdesk'"  # exactly as for an agent that does not exist
        message = problem(
            bob.post("/v1/tokens/revoke", json={"jti": "at_x", "agent": "ghost"}), 404, "not_found", "name"
        )
        assert message == "no such agent 'ghost'"
    assert introspect(pep, token)["active"] is True
    with live.client(mint(AdminRole.AUDITOR)) as auditor:  # reads agents: told it may not
        problem(auditor.post("/v1/tokens/revoke", json={"token": token}), 403, "forbidden")
    with live.client(mint(AdminRole.PEP)) as pep_role:  # reads no agent: sees none
        problem(pep_role.post("/v1/tokens/revoke", json={"token": token}), 404, "not_found", "name")
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        assert alice.post("/v1/tokens/revoke", json={"token": token}).status_code == 200
    assert introspect(pep, token) == {"active": False}


def test_bad_requests_are_problems_naming_the_field(
    live: LiveServer, admin_client: httpx.Client, client: httpx.Client, agent_key: jose.SigningKey
) -> None:
    token = issue(live, client, agent_key)
    revoke = "/v1/tokens/revoke"
    assert "name the token" in problem(admin_client.post(revoke, json={}), 422, "invalid_request", "jti")
    problem(admin_client.post(revoke, json={"jti": "at_x"}), 422, "invalid_request", "jti")
    malformed = problem(admin_client.post(revoke, json={"token": "not.a.jwt"}), 422, "invalid_request", "token")
    assert malformed.startswith("the token cannot be revoked: ")
    stranger = jose.sign_jwt(
        {"iss": live.remit.token_endpoint.issuer, "aud": RESOURCE, "sub": "helpdesk", "exp": 2**31},
        jose.SigningKey.generate("EdDSA"),
        typ="at+jwt",
    )
    unknown = problem(admin_client.post(revoke, json={"token": stranger}), 422, "invalid_request", "token")
    assert unknown == "the token cannot be revoked: the signing key is unknown"
    other_jti = {"token": token, "jti": "at_other"}
    assert (
        problem(admin_client.post(revoke, json=other_jti), 422, "invalid_request", "jti")
        == "the jti is not the token's"
    )
    problem(admin_client.post(revoke, json={"token": token, "agent": "billing"}), 422, "invalid_request", "agent")
    problem(admin_client.post(revoke, json={"token": token, "extra": 1}), 422, "invalid_request", "extra")
    problem(admin_client.post(revoke, json={"jti": "a\x00b", "agent": "helpdesk"}), 422, "invalid_request", "jti")
    problem(admin_client.post(revoke, json={"token": token, "reason": "x" * 501}), 422, "invalid_request", "reason")


def test_a_token_valid_until_the_last_second_of_9999_is_revoked_until_then(
    live: LiveServer,
    admin_client: httpx.Client,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
) -> None:
    # its expiry plus the verifiers' leeway is past the last date there is: the jti is kept until that date
    issued = jose.parse_json_object(jose.parse_compact(issue(live, client, agent_key)).payload, "claims")
    token = sign_claims(live.remit.signing_keys.active(), {**issued, "exp": MAX_NUMERIC_DATE, "jti": "at_far"})
    assert introspect(pep, token)["exp"] == MAX_NUMERIC_DATE
    r = admin_client.post("/v1/tokens/revoke", json={"token": token, "reason": "never expires"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked_until"] == "9999-12-31T23:59:59Z"
    assert introspect(pep, token) == {"active": False}
    revoke(live, client, agent_key, token)  # the client's own revocation (RFC 7009): 200 too
