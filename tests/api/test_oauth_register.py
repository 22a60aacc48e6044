"""``POST /oauth/register`` (RFC 7591) over real HTTP: an initial access token registers an agent with its keys,
which then gets tokens with ``private_key_jwt``; every refusal is an RFC 7591 §3.2.2 (or RFC 6750) error body."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.paging import PageRequest
from remit.registry import ResourceDraft, ResourceKind, UserDraft
from remit.registry.models import UserStatus
from remit.registry.ports import EventFilter
from remit.registry.service import UserChanges
from remit.settings import Settings, load_settings
from remit.tokens import jose
from remit.tokens.endpoint import ASSERTION_TYPE
from tests.api.conftest import LiveServer, TokenFactory
from tests.api.test_oauth_token import ADMIN
from tests.servers import http_serving

RESOURCE = "https://mcp.example.org/helpdesk"
POLICY = """@id("registered-reads-tickets")
permit(principal == Agent::"ticket-bot", action == Action::"call_tool", resource == Tool::"helpdesk.get_ticket");
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """As the shared fixture, with a loopback ``jwks_uri`` allowed: the test's JWKS server is on 127.0.0.1."""
    return load_settings(home=tmp_path, database_url=database_url, tokens={"jwks_uri_allow_loopback": True})


@pytest.fixture
def estate(live: LiveServer) -> None:
    remit = live.remit
    for uid in ("alice", "bob"):
        remit.registry.create_user(ADMIN, UserDraft(id=uid, email=f"{uid}@example.org"))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    remit.registry.create_resource(
        ADMIN, ResourceDraft(id="helpdesk.get_ticket", kind=ResourceKind.TOOL, parent="helpdesk")
    )
    remit.policies.apply(ADMIN, POLICY)
    remit.refresher.refresh()


def initial_token(live: LiveServer, owner: str | None = "alice", **kw: Any) -> tuple[str, str]:
    """(id, value) of a registration token made through the admin API."""
    body: dict[str, Any] = {"owner": owner} if owner else {"any_owner": True}
    with live.client(live.admin_token) as admin:
        r = admin.post("/v1/registration-tokens", json={**body, **kw})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["token"]


def register(live: LiveServer, token: str | None, metadata: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with live.client() as c:
        return c.post("/oauth/register", json=metadata, headers=headers)


def refused(r: httpx.Response, status: int, error: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert r.headers["cache-control"] == "no-store"
    description: str = body["error_description"]
    return description


def metadata(key: jose.SigningKey, **extra: Any) -> dict[str, Any]:
    return {"client_name": "ticket-bot", "owner": "alice", "jwks": {"keys": [key.public_key.to_jwk()]}, **extra}


def get_token(live: LiveServer, key: jose.SigningKey, client_id: str) -> httpx.Response:
    now = int(live.remit.clock.now().timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{live.remit.settings.tokens.issuer}/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": f"r-{time.monotonic_ns()}",
    }
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jose.sign_jwt(claims, key, typ="JWT"),
        "resource": RESOURCE,
        "scope": "call_tool:helpdesk.get_ticket",
    }
    with live.client() as c:
        return c.post("/oauth/token", data=form)


@pytest.mark.usefixtures("estate")
def test_a_registered_client_gets_tokens_with_private_key_jwt(live: LiveServer, clock: FrozenClock) -> None:
    token_id, token = initial_token(live, max_uses=1)
    key = jose.SigningKey.generate("ES256")
    r = register(
        live,
        token,
        metadata(
            key,
            purpose="Reads helpdesk tickets",
            team="support",
            environment="staging",
            scope="call_tool:helpdesk.get_ticket",
            grant_types=["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
            client_uri="https://ignored.example",
        ),
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body == {
        "client_id": "ticket-bot",
        "client_id_issued_at": int(clock.now().timestamp()),
        "client_name": "ticket-bot",
        "owner": "alice",
        "purpose": "Reads helpdesk tickets",
        "team": "support",
        "environment": "staging",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        "dpop_bound_access_tokens": False,
        "scope": "call_tool:helpdesk.get_ticket",
        "jwks": {"keys": [key.public_key.to_jwk()]},
    }
    agent = live.remit.registry.get_agent(ADMIN, "ticket-bot")
    assert (agent.owner, agent.team, agent.environment, agent.status.value) == ("alice", "support", "staging", "active")
    [registered] = live.remit.agent_keys.list(ADMIN, "ticket-bot")
    assert registered.kid == key.public_key.kid
    live.remit.refresher.refresh()  # the policy engine learns of the new agent at its next poll; no waiting here
    issued = get_token(live, key, "ticket-bot")
    assert issued.status_code == 200, issued.text

    events = live.remit.registry.list_events(ADMIN, EventFilter(target_id="ticket-bot"), PageRequest(limit=10)).items
    assert sorted(e.action for e in events) == ["agent.create", "agent_key.add"]
    assert {e.actor for e in events} == {f"registration_token:{token_id}"}
    [listed] = live.remit.registration_tokens.list(ADMIN, PageRequest(limit=10)).items
    assert (listed.use_count, listed.status(clock.now())) == (1, "used")
    again = register(live, token, metadata(jose.SigningKey.generate("EdDSA"), client_name="another-bot"))
    assert refused(again, 401, "invalid_token") == "the initial access token is used"
    assert again.headers["www-authenticate"].startswith('Bearer realm="remit", error="invalid_token"')
    with live.client() as c:
        meta = c.get("/.well-known/oauth-authorization-server").json()
    assert meta["registration_endpoint"] == f"{live.remit.settings.tokens.issuer}/oauth/register"


class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b"{}"

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/jwks.json" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_Jwks]]]:
    handler = type("Jwks", (_Jwks,), {})
    with http_serving(handler) as url:
        yield url, handler


@pytest.mark.usefixtures("estate")
def test_keys_from_a_jwks_uri(live: LiveServer, jwks_server: tuple[str, type[_Jwks]], clock: FrozenClock) -> None:
    url, handler = jwks_server
    keys = [jose.SigningKey.generate("EdDSA"), jose.SigningKey.generate("ES256")]
    handler.document = json.dumps({"keys": [k.public_key.to_jwk() for k in keys]}).encode()
    _, token = initial_token(live, max_uses=5)
    body = {"client_name": "ticket-bot", "owner": "alice", "jwks_uri": f"{url}/jwks.json"}
    r = register(live, token, body)
    assert r.status_code == 201, r.text
    assert r.json()["jwks_uri"] == f"{url}/jwks.json" and "jwks" not in r.json()
    # the keys are taken from the jwks_uri as the client publishes them, not copied once
    assert live.remit.agent_keys.list(ADMIN, "ticket-bot") == ()
    assert live.remit.agent_clients.get(ADMIN, "ticket-bot").jwks_uri == f"{url}/jwks.json"
    live.remit.refresher.refresh()
    assert get_token(live, keys[1], "ticket-bot").status_code == 200
    # the client rotates: it publishes a new key and withdraws the first; the new kid makes Remit fetch the set again
    rotated = jose.SigningKey.generate("EdDSA")
    handler.document = json.dumps({"keys": [k.public_key.to_jwk() for k in (keys[1], rotated)]}).encode()
    clock.advance(timedelta(seconds=30))
    assert get_token(live, rotated, "ticket-bot").status_code == 200
    withdrawn = get_token(live, keys[0], "ticket-bot")
    assert refused(withdrawn, 401, "invalid_client") == "the signing key is unknown"
    handler.document = json.dumps({"keys": [k.public_key.to_jwk() for k in keys]}).encode()

    missing = register(live, token, {**body, "client_name": "other", "jwks_uri": f"{url}/nothing"})
    assert refused(missing, 400, "invalid_client_metadata") == f"jwks_uri: {url}/nothing answered 404, not 200"
    handler.document = b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'
    symmetric = register(live, token, {**body, "client_name": "other"})
    assert refused(symmetric, 400, "invalid_client_metadata").startswith("jwks_uri.keys[0]: ")
    public = register(live, token, {**body, "client_name": "other", "jwks_uri": "http://10.0.0.1/jwks.json"})
    assert refused(public, 400, "invalid_client_metadata") == "jwks_uri: the URL must use https"
    [listed] = live.remit.registration_tokens.list(ADMIN, PageRequest(limit=10)).items
    assert listed.use_count == 1  # refusals spend no use


@pytest.mark.usefixtures("estate")
def test_every_refusal(live: LiveServer, clock: FrozenClock) -> None:
    _, token = initial_token(live)
    _, anyone = initial_token(live, owner=None)
    key = jose.SigningKey.generate("EdDSA")
    good = metadata(key)

    assert refused(register(live, None, good), 401, "invalid_token").startswith("an initial access token is required")
    assert refused(register(live, "remit_reg_nope_nope_nope", good), 401, "invalid_token") == (
        "the initial access token is not valid"
    )
    with live.client() as c:
        not_json = c.post("/oauth/register", content=b"client_name=x", headers={"Authorization": f"Bearer {token}"})
        assert refused(not_json, 400, "invalid_client_metadata").startswith("the request body must be a JSON object")
        anonymous = c.post("/oauth/register", content=b"x")
        assert refused(anonymous, 401, "invalid_token").startswith("an initial access token is required")

    def bad(error: str, body: Any, using: str = token) -> str:
        return refused(register(live, using, body), 400, error)

    m = "invalid_client_metadata"
    assert bad(m, ["not", "an", "object"]) == "the request body must be a JSON object of client metadata"
    assert bad(m, {k: v for k, v in good.items() if k != "client_name"}) == "client_name is required"
    assert bad(m, {**good, "client_name": "Ticket Bot"}).startswith("client_name must be an agent name")
    assert bad(m, {k: v for k, v in good.items() if k != "owner"}) == "owner is required"
    assert bad(m, {**good, "owner": "bob"}) == "owner: this initial access token registers agents for alice only"
    assert bad(m, {**good, "owner": "nobody"}, anyone).startswith("owner: ")
    assert bad(m, {**good, "jwks_uri": "https://example.org/jwks"}).startswith("give exactly one of jwks and jwks_uri")
    assert bad(m, {k: v for k, v in good.items() if k != "jwks"}).startswith("give exactly one of jwks and jwks_uri")
    assert bad(m, {**good, "jwks": {"keys": []}}) == "jwks must be a JWK Set with 1 to 10 keys"
    private = {**good, "jwks": {"keys": [json.loads(key_with_private(key))]}}
    assert bad(m, private).startswith("jwks.keys[0]: ")
    assert bad(m, {**good, "token_endpoint_auth_method": "client_secret_basic"}) == (
        "token_endpoint_auth_method must be private_key_jwt"
    )
    assert bad(m, {**good, "grant_types": ["authorization_code"]}).startswith("grant_types must list some of")
    assert bad(m, {**good, "dpop_bound_access_tokens": "yes"}) == "dpop_bound_access_tokens must be true or false"
    assert bad(m, {**good, "token_endpoint_auth_signing_alg": "HS256"}).startswith("token_endpoint_auth_signing_alg")
    assert bad(m, {**good, "team": "Not A Label"}).startswith("team: ")
    assert bad(m, {**good, "response_types": ["code"]}).startswith("response_types must be empty")
    assert bad("invalid_redirect_uri", {**good, "redirect_uris": ["https://x.example/cb"]}).startswith("redirect_uris")
    assert bad("invalid_software_statement", {**good, "software_statement": "eyJ..."}).startswith("software statements")

    assert register(live, token, good).status_code == 201
    assert bad(m, {**good, "jwks": {"keys": [jose.SigningKey.generate().public_key.to_jwk()]}}) == (
        "client_name: an agent named 'ticket-bot' already exists"
    )
    assert bad(m, {**good, "client_name": "copy-bot"}) == f"jwks: the key {key.public_key.kid} is already registered"

    live.remit.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.DISABLED))
    assert refused(register(live, token, {**good, "client_name": "b2"}), 401, "invalid_token") == (
        "the initial access token's owner is disabled"
    )
    live.remit.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.ACTIVE))
    clock.advance(timedelta(hours=1))
    assert refused(register(live, token, {**good, "client_name": "b3"}), 401, "invalid_token") == (
        "the initial access token is expired"
    )


def key_with_private(key: jose.SigningKey) -> str:
    """The private JWK of ``key``, as a careless client might send it."""
    return json.dumps({**key.public_key.to_jwk(), "d": "bm90LWEtcmVhbC1wcml2YXRlLWtleQ"})


@pytest.mark.usefixtures("estate")
def test_the_admin_api_mints_lists_and_revokes(live: LiveServer, mint: TokenFactory, clock: FrozenClock) -> None:
    with live.client(live.admin_token) as admin:
        both = admin.post("/v1/registration-tokens", json={"owner": "alice", "any_owner": True})
        assert both.status_code == 422 and both.json()["message"] == "give exactly one of owner and any_owner"
        neither = admin.post("/v1/registration-tokens", json={})
        assert neither.status_code == 422
        ghost = admin.post("/v1/registration-tokens", json={"owner": "ghost"})
        assert ghost.status_code == 422 and ghost.json()["field"] == "owner"
        too_long = admin.post(
            "/v1/registration-tokens",
            json={"owner": "alice", "expires_at": (clock.now() + timedelta(days=31)).isoformat()},
        )
        assert too_long.status_code == 422 and too_long.json()["field"] == "expires_at"
        made = admin.post("/v1/registration-tokens", json={"owner": "alice", "max_uses": 3, "name": "onboarding"})
        assert made.status_code == 201
        created = made.json()
        assert created["token"].startswith("remit_reg_") and created["status"] == "active"
        assert created["expires_at"] == (clock.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        [listed] = admin.get("/v1/registration-tokens").json()["items"]
        assert "token" not in listed and "digest" not in listed and listed["max_uses"] == 3
        revoked = admin.post(f"/v1/registration-tokens/{created['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        again = admin.post(f"/v1/registration-tokens/{created['id']}/revoke")
        assert again.status_code == 409
    denied = register(live, created["token"], {"client_name": "x", "owner": "alice"})
    assert refused(denied, 401, "invalid_token") == "the initial access token is revoked"
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as owner:
        assert owner.post("/v1/registration-tokens", json={"owner": "alice"}).status_code == 403
        assert owner.get("/v1/registration-tokens").status_code == 403
    with live.client(mint(AdminRole.AUDITOR)) as auditor:
        assert auditor.get("/v1/registration-tokens").status_code == 200
    events = live.remit.registry.list_events(
        ADMIN, EventFilter(target_type="registration_token"), PageRequest(limit=10)
    ).items
    assert [e.action for e in events] == ["registration_token.revoke", "registration_token.create"]
    assert created["token"] not in str([e.after for e in events])


@pytest.mark.usefixtures("estate")
def test_dpop_bound_access_tokens_is_stored_and_enforced(live: LiveServer) -> None:
    _, token = initial_token(live)
    key = jose.SigningKey.generate("EdDSA")
    r = register(live, token, metadata(key, dpop_bound_access_tokens=True))
    assert r.status_code == 201, r.text
    assert r.json()["dpop_bound_access_tokens"] is True
    assert live.remit.agent_clients.requires_dpop("ticket-bot")
    live.remit.refresher.refresh()
    without_proof = get_token(live, key, "ticket-bot")
    assert refused(without_proof, 400, "invalid_dpop_proof").startswith("this client must use DPoP")
