"""``/v1/agents/{name}/client`` over real HTTP: read and set an agent's OAuth client metadata; owners only their
own agents'; every change in the change feed."""

from __future__ import annotations

import httpx

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from tests.api.conftest import LiveServer, TokenFactory


def _agents(client: httpx.Client) -> None:
    for name, owner in (("helpdesk", "alice"), ("billing", "bob")):
        assert client.post("/v1/agents", json={"name": name, "owner": owner}).status_code == 201


def test_get_and_put(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory, clock: FrozenClock
) -> None:
    _agents(admin_client)
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        r = alice.get("/v1/agents/helpdesk/client")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "agent": "helpdesk",
            "dpop_bound_access_tokens": False,
            "jwks_uri": None,
            "updated_at": None,
            "updated_by": None,
        }
        put = alice.put("/v1/agents/helpdesk/client", json={"dpop_bound_access_tokens": True})
        assert put.status_code == 200, put.text
        body = put.json()
        assert (body["dpop_bound_access_tokens"], body["updated_at"]) == (True, "2026-01-01T00:00:00Z")
        assert body["updated_by"].startswith("token:")
        assert alice.get("/v1/agents/helpdesk/client").json() == body
    assert live.remit.agent_clients.requires_dpop("helpdesk") is True
    events = admin_client.get("/v1/events", params={"target_type": "agent", "target_id": "helpdesk"}).json()
    [change] = [e for e in events["items"] if e["action"] == "agent_client.update"]
    assert (change["before"]["dpop_bound_access_tokens"], change["after"]["dpop_bound_access_tokens"]) == (False, True)


def test_bad_bodies_are_422(admin_client: httpx.Client, users: list[str]) -> None:
    _agents(admin_client)
    cases = {
        "missing": ({}, "dpop_bound_access_tokens is required"),
        "string": ({"dpop_bound_access_tokens": "yes"}, "dpop_bound_access_tokens must be true or false"),
        "number": ({"dpop_bound_access_tokens": 1}, "dpop_bound_access_tokens must be true or false"),
        "unknown": ({"dpop_bound_access_tokens": True, "dpop": True}, "unknown field 'dpop'"),
    }
    for case, (body, message) in cases.items():
        r = admin_client.put("/v1/agents/helpdesk/client", json=body)
        assert r.status_code == 422, case
        assert r.json()["code"] == "invalid_request", case
        assert message in r.json()["message"], case
    assert admin_client.get("/v1/agents/helpdesk/client").json()["dpop_bound_access_tokens"] is False


def test_another_owners_agent_is_not_found(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    _agents(admin_client)
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        for r in (
            alice.get("/v1/agents/billing/client"),
            alice.put("/v1/agents/billing/client", json={"dpop_bound_access_tokens": True}),
        ):
            assert r.status_code == 404
            assert (r.json()["code"], r.json()["message"]) == ("not_found", "no such agent 'billing'")
    assert live.remit.agent_clients.requires_dpop("billing") is False
    with live.client(mint(AdminRole.AUDITOR)) as auditor:
        assert auditor.get("/v1/agents/billing/client").status_code == 200
        refused = auditor.put("/v1/agents/billing/client", json={"dpop_bound_access_tokens": True})
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    missing = admin_client.get("/v1/agents/ghost/client")
    assert (missing.status_code, missing.json()["message"]) == (404, "no such agent 'ghost'")
