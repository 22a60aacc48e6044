"""Legacy API keys over real HTTP: ``client_secret_basic`` and ``client_secret_post`` at ``/oauth/token`` buy a
normal access token; every use is flagged in the audit log and counted; the admin API mints, lists, revokes and
reports them."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote_plus

import httpx
import pytest

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from remit.paging import PageRequest
from remit.registry import AgentAction, UserDraft
from remit.registry.ports import EventFilter
from remit.store.audit import AuditFilter
from remit.tokens import jose
from remit.tokens.verify import KeySet, VerifyPolicy, verify_jwt
from tests.api.conftest import LiveServer, TokenFactory
from tests.api.test_oauth_token import ADMIN, RESOURCE, SCOPE, agent_key, client, form, refused

__all__ = ["agent_key", "client"]  # fixtures used by name

pytestmark = pytest.mark.usefixtures("agent_key")


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def grant(**extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "resource": RESOURCE, "scope": SCOPE, **extra}


@pytest.fixture
def api_key(live: LiveServer, clock: FrozenClock) -> tuple[str, str]:
    """A legacy key of helpdesk, minted over the admin API: (id, value)."""
    with live.client(live.admin_token) as admin:
        r = admin.post(
            "/v1/agents/helpdesk/api-keys", json={"expires_at": (clock.now() + timedelta(days=30)).isoformat()}
        )
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], body["api_key"]


def legacy_uses(client: httpx.Client, live: LiveServer) -> dict[str, float]:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {live.admin_token}"}).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("remit_legacy_api_key_uses_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            out[result] = float(line.rsplit(" ", 1)[1])
    return out


def test_basic_and_post_buy_a_normal_token_flagged_in_the_audit_log(
    live: LiveServer, client: httpx.Client, api_key: tuple[str, str], clock: FrozenClock
) -> None:
    key_id, value = api_key
    assert legacy_uses(client, live) == {"accepted": 0.0, "refused": 0.0}
    by_basic = client.post("/oauth/token", data=grant(), headers=basic("helpdesk", value))
    by_post = client.post("/oauth/token", data=grant(client_id="helpdesk", client_secret=value))
    keys = KeySet.from_jwks(client.get("/.well-known/jwks.json").json())
    policy = VerifyPolicy.access_token(live.remit.settings.tokens.issuer, RESOURCE)
    for r in (by_basic, by_post):
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        token = verify_jwt(r.json()["access_token"], keys, policy, clock.now())
        assert (token.subject, token.claims["scope"]) == ("helpdesk", SCOPE)

    records = live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items
    contexts = sorted((r["context"] for r in records), key=lambda c: str(c["auth_method"]))
    assert [{k: c[k] for k in ("auth_method", "legacy", "key_id")} for c in contexts] == [
        {"auth_method": "client_secret_basic", "legacy": True, "key_id": key_id},
        {"auth_method": "client_secret_post", "legacy": True, "key_id": key_id},
    ]
    assert value not in str(records)
    [listed] = live.remit.legacy_keys.list(ADMIN, "helpdesk")
    assert (listed.use_count, listed.last_used_at) == (2, clock.now())
    assert legacy_uses(client, live) == {"accepted": 2.0, "refused": 0.0}

    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint_auth_methods_supported"] == [
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
    ]


def test_refusals_are_invalid_client_with_the_scheme_the_client_used(
    live: LiveServer, client: httpx.Client, api_key: tuple[str, str], clock: FrozenClock, agent_key: jose.SigningKey
) -> None:
    key_id, value = api_key
    wrong = value[:-1] + ("A" if value[-1] != "A" else "B")

    def basic_refusal(client_id: str, secret: str) -> str:
        r = client.post("/oauth/token", data=grant(), headers=basic(client_id, secret))
        assert r.headers["www-authenticate"] == 'Basic realm="remit", charset="UTF-8"'
        return refused(r, 401, "invalid_client")

    def post_refusal(**params: str) -> str:
        r = client.post("/oauth/token", data=grant(**params))
        assert r.headers["www-authenticate"].startswith('Bearer realm="remit", error="invalid_client"')
        return refused(r, 401, "invalid_client")

    assert basic_refusal("helpdesk", wrong) == "the client credentials are not valid"
    assert basic_refusal("someone-else", value) == "the client credentials are not valid"
    assert post_refusal(client_id="helpdesk", client_secret=wrong) == "the client credentials are not valid"
    assert post_refusal(client_secret=value) == "client_secret_post needs the client_id parameter"
    bad_header = client.post("/oauth/token", data=grant(), headers={"Authorization": "Basic !!!"})
    assert refused(bad_header, 401, "invalid_client") == "the HTTP Basic credentials are not base64 of id:secret"

    both = client.post("/oauth/token", data=grant(client_secret=value), headers=basic("helpdesk", value))
    assert "HTTP Basic or client_secret, not both" in refused(both, 400, "invalid_request")
    with_assertion = form(live, agent_key, client_id="helpdesk", client_secret=value)
    assert "not both" in refused(client.post("/oauth/token", data=with_assertion), 400, "invalid_request")

    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.SUSPEND, "incident")
    assert basic_refusal("helpdesk", value) == "the client is suspended"
    live.remit.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.RESUME, "over")
    clock.advance(timedelta(days=31))
    assert basic_refusal("helpdesk", value) == "the legacy API key has expired"
    clock.advance(timedelta(days=-31))
    live.remit.legacy_keys.revoke(ADMIN, "helpdesk", key_id)
    assert post_refusal(client_id="helpdesk", client_secret=value) == "the legacy API key is revoked"
    # the six that reached a key check; malformed requests are refused before any key is looked at
    assert legacy_uses(client, live) == {"accepted": 0.0, "refused": 6.0}
    assert live.remit.audit.query(ADMIN, AuditFilter(kind="token"), PageRequest(limit=10)).items == ()


def test_the_admin_api_mints_lists_revokes_and_reports(
    live: LiveServer, mint: TokenFactory, clock: FrozenClock, api_key: tuple[str, str]
) -> None:
    key_id, value = api_key
    live.remit.legacy_keys.authenticate("helpdesk", value)
    alice = mint(AdminRole.OWNER, user_id="alice")
    with live.client(alice) as owner:
        listed = owner.get("/v1/agents/helpdesk/api-keys").json()
        [item] = listed["items"]
        assert {k: item[k] for k in ("id", "prefix", "agent", "status", "use_count")} == {
            "id": key_id,
            "prefix": f"remit_apikey_{key_id}",
            "agent": "helpdesk",
            "status": "active",
            "use_count": 1,
        }
        assert "api_key" not in item and "digest" not in item and value not in str(listed)
        no_expiry = owner.post("/v1/agents/helpdesk/api-keys", json={})
        assert no_expiry.status_code == 422 and no_expiry.json()["field"] == "expires_at"
        too_far = owner.post(
            "/v1/agents/helpdesk/api-keys", json={"expires_at": (clock.now() + timedelta(days=91)).isoformat()}
        )
        assert too_far.status_code == 422 and "tokens.legacy_key_max_days" in too_far.json()["message"]
        report = owner.get("/v1/api-keys").json()
        assert [(i["id"], i["owner"], i["use_count"]) for i in report["items"]] == [(key_id, "alice", 1)]
        revoked = owner.delete(f"/v1/agents/helpdesk/api-keys/{key_id}")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        bad_id = owner.delete("/v1/agents/helpdesk/api-keys/not-an-id")
        assert bad_id.status_code == 422
    live.remit.registry.create_user(ADMIN, UserDraft(id="bob", email="bob@example.org"))
    with live.client(mint(AdminRole.OWNER, user_id="bob")) as bob:
        hidden = bob.get("/v1/agents/helpdesk/api-keys")
        assert hidden.status_code == 404 and hidden.json()["message"] == "no such agent 'helpdesk'"
        assert bob.get("/v1/api-keys").json()["items"] == []
    with live.client(mint(AdminRole.PEP)) as pep:
        assert pep.get("/v1/api-keys").status_code == 403
    events = live.remit.registry.list_events(ADMIN, EventFilter(target_id="helpdesk"), PageRequest(limit=10)).items
    assert [e.action for e in events if e.action.startswith("api_key.")] == ["api_key.revoke", "api_key.create"]
