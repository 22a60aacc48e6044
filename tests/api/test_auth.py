"""Admin authentication and the admin roles over HTTP: admin, auditor, owner."""

from __future__ import annotations

import httpx

from remit.admin.access import AdminRole
from tests.api.conftest import LiveServer, TokenFactory


def test_no_or_bad_token_is_401(live: LiveServer) -> None:
    with live.client() as anonymous:
        r = anonymous.get("/v1/agents")
        assert r.status_code == 401
        assert r.json()["code"] == "unauthenticated"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/readyz").json() == {"status": "ready"}
    for bad in ("remit_adm_" + "A" * 43, "not-a-token", live.admin_token + "x"):
        with live.client(bad) as client:
            assert client.get("/v1/agents").status_code == 401
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Basic {live.admin_token}"}) as basic:
        assert basic.get("/v1/agents").status_code == 401


def test_revoked_token_stops_working_at_once(live: LiveServer, admin_client: httpx.Client) -> None:
    created = admin_client.post("/v1/admin-tokens", json={"name": "ci", "role": "auditor"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("remit_adm_")
    with live.client(secret) as auditor:
        assert auditor.get("/v1/whoami").json()["role"] == "auditor"
        listed = admin_client.get("/v1/admin-tokens").json()["items"]
        assert all("token" not in t and "digest" not in t for t in listed)
        assert admin_client.post(f"/v1/admin-tokens/{created.json()['id']}/revoke").json()["revoked_at"]
        assert auditor.get("/v1/whoami").status_code == 401


def test_auditor_reads_but_never_writes(live: LiveServer, users: list[str], mint: TokenFactory) -> None:
    with live.client(mint(AdminRole.AUDITOR)) as auditor:
        assert auditor.get("/v1/agents").status_code == 200
        assert auditor.get("/v1/users").json()["items"][0]["id"] == "alice"
        assert auditor.get("/v1/events").status_code == 200
        r = auditor.post("/v1/agents", json={"name": "bot", "owner": "alice"})
        assert r.status_code == 403
        assert r.json()["code"] == "forbidden"
        assert auditor.post("/v1/users", json={"id": "eve", "email": "eve@example.org"}).status_code == 403
        assert auditor.post("/v1/admin-tokens", json={"name": "x", "role": "admin"}).status_code == 403


def test_owner_sees_and_changes_only_their_agents(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    for name, owner in (("alice-bot", "alice"), ("bob-bot", "bob")):
        assert admin_client.post("/v1/agents", json={"name": name, "owner": owner}).status_code == 201
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        assert [a["name"] for a in alice.get("/v1/agents").json()["items"]] == ["alice-bot"]
        assert alice.get("/v1/agents", params={"owner": "bob"}).json()["items"] == []
        for attempt in (
            alice.get("/v1/agents/bob-bot"),
            alice.patch("/v1/agents/bob-bot", json={"purpose": "hijacked"}),
            alice.post("/v1/agents/bob-bot/suspend", json={"reason": "mine now"}),
            alice.post("/v1/agents/bob-bot/retire", json={"reason": "mine now"}),
        ):
            assert attempt.status_code == 404, attempt.text
            assert attempt.json()["code"] == "not_found"
        untouched = admin_client.get("/v1/agents/bob-bot").json()
        assert (untouched["purpose"], untouched["status"]) == ("", "active")

        # their own agent: yes; in someone else's name, or handed to someone else: no
        assert alice.patch("/v1/agents/alice-bot", json={"purpose": "mine"}).status_code == 200
        assert alice.post("/v1/agents/alice-bot/suspend", json={"reason": "pause"}).status_code == 200
        assert alice.post("/v1/agents", json={"name": "alice-2", "owner": "alice"}).status_code == 201
        r = alice.post("/v1/agents", json={"name": "bob-2", "owner": "bob"})
        assert r.status_code == 403
        assert "own name" in r.json()["message"]
        r = alice.patch("/v1/agents/alice-bot", json={"owner": "bob"})
        assert r.status_code == 403
        assert admin_client.get("/v1/agents/alice-bot").json()["owner"] == "alice"

        # a quarantine is lifted by an admin only
        assert admin_client.post("/v1/agents/alice-2/quarantine", json={"reason": "odd"}).status_code == 200
        assert alice.post("/v1/agents/alice-2/quarantine", json={"reason": "x"}).status_code == 403
        assert alice.post("/v1/agents/alice-2/resume", json={"reason": "fine"}).status_code == 403
        assert admin_client.get("/v1/agents/alice-2").json()["status"] == "quarantined"

        # catalogue reads yes; users: only self; writes and events: no
        assert alice.get("/v1/roles").status_code == 200
        assert alice.get("/v1/resources").status_code == 200
        assert [u["id"] for u in alice.get("/v1/users").json()["items"]] == ["alice"]
        assert alice.get("/v1/users/bob").status_code == 404
        assert alice.get("/v1/events").status_code == 403
        assert alice.post("/v1/roles", json={"name": "r"}).status_code == 403
        assert alice.post("/v1/admin-tokens", json={"name": "x", "role": "admin"}).status_code == 403


def test_disabling_a_user_stops_their_tokens(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    with live.client(mint(AdminRole.OWNER, user_id="bob")) as bob:
        assert bob.get("/v1/whoami").json() == {
            "actor": bob.get("/v1/whoami").json()["actor"],
            "role": "owner",
            "user_id": "bob",
        }
        assert admin_client.patch("/v1/users/bob", json={"status": "disabled"}).status_code == 200
        assert bob.get("/v1/agents").status_code == 401


def test_owner_cannot_probe_other_owners_agents_through_roles(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    for name, owner in (("alice-bot", "alice"), ("bob-bot", "bob")):
        assert admin_client.post("/v1/agents", json={"name": name, "owner": owner}).status_code == 201
    assert admin_client.post("/v1/roles", json={"name": "reader"}).status_code == 201
    for member in ("agents/alice-bot", "agents/bob-bot", "users/alice", "users/bob"):
        assert admin_client.put(f"/v1/roles/reader/{member}").status_code == 200
    everyone = admin_client.get("/v1/roles/reader").json()
    assert (everyone["agents"], everyone["users"]) == (["alice-bot", "bob-bot"], ["alice", "bob"])

    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        role = alice.get("/v1/roles/reader").json()
        assert (role["agents"], role["users"]) == (["alice-bot"], ["alice"])
        listed = alice.get("/v1/roles").json()["items"]
        assert [(r["name"], r["agents"], r["users"]) for r in listed] == [("reader", ["alice-bot"], ["alice"])]
        assert [r["name"] for r in alice.get("/v1/roles", params={"agent": "alice-bot"}).json()["items"]] == ["reader"]
        # another owner's agent (or another user) answers exactly as one that does not exist
        for param, hidden, unknown in (("agent", "bob-bot", "ghost-bot"), ("user", "bob", "ghost")):
            seen = alice.get("/v1/roles", params={param: hidden})
            missing = alice.get("/v1/roles", params={param: unknown})
            assert (
                (seen.status_code, seen.json())
                == (missing.status_code, missing.json())
                == (
                    200,
                    {"items": [], "next_cursor": None},
                )
            )


PEP_REFUSED = [
    "/v1/agents",
    "/v1/users",
    "/v1/roles",
    "/v1/resources",
    "/v1/events",
    "/v1/api-keys",
    "/v1/audit",
    "/v1/audit/chain",
    "/v1/admin-tokens",
    "/v1/registration-tokens",
    "/v1/policies",
    "/v1/policies/active",
    "/v1/entities",
    "/v1/keys",
]


def test_pep_reads_no_listing_but_decides_and_introspects(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    assert admin_client.post("/v1/agents", json={"name": "bot", "owner": "alice"}).status_code == 201
    with live.client(mint(AdminRole.PEP)) as pep:
        for path in PEP_REFUSED:
            r = pep.get(path)
            assert r.status_code == 403, (path, r.text)
            body = r.json()
            assert body["code"] == "forbidden", path
            assert body["message"].startswith("role pep may not "), path
        assert pep.get("/v1/agents", params={"owner": "alice"}).status_code == 403
        assert pep.get("/v1/agents/bot").status_code == 404  # it cannot tell the agent exists

        # what a PEP is for still works: decisions, introspection, the metrics
        evaluation = {
            "subject": {"type": "agent", "id": "bot"},
            "action": {"name": "read"},
            "resource": {"type": "app", "id": "crm"},
        }
        decided = pep.post("/access/v1/evaluation", json=evaluation)
        assert decided.status_code == 200
        assert decided.json()["decision"] is False
        introspected = pep.post("/oauth/introspect", data={"token": "not-a-token"})
        assert (introspected.status_code, introspected.json()) == (200, {"active": False})
        assert pep.get("/metrics").status_code == 200
