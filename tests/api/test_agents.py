"""``/v1/agents`` over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from remit.clock import FrozenClock
from tests.api.conftest import LiveServer


def _create(client: httpx.Client, name: str, owner: str = "alice", **extra: object) -> httpx.Response:
    return client.post("/v1/agents", json={"name": name, "owner": owner, **extra})


def test_create_show_and_list(admin_client: httpx.Client, users: list[str], clock: FrozenClock) -> None:
    r = _create(
        admin_client,
        "support-ticket-summariser",
        purpose="Summarise new tickets",
        team="support",
        environment="production",
        risk_tier="low",
        clearance=2,
        attributes={"framework": "langchain", "labels": ["pii", "support"]},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == "spiffe://remit.local/agent/support-ticket-summariser"
    assert body["owner"] == "alice"
    assert body["status"] == "active"
    assert body["attributes"] == {"framework": "langchain", "labels": ["pii", "support"]}
    assert body["created_at"].startswith("2026-01-01T00:00:00")
    assert body["review_due_at"].startswith("2026-04-01T00:00:00")  # 90 days later

    shown = admin_client.get("/v1/agents/support-ticket-summariser").json()
    assert shown == body
    listed = admin_client.get("/v1/agents", params={"team": "support"}).json()
    assert [a["name"] for a in listed["items"]] == ["support-ticket-summariser"]
    assert admin_client.get("/v1/agents", params={"team": "sales"}).json()["items"] == []


def test_pagination_walks_every_agent_once(admin_client: httpx.Client, users: list[str]) -> None:
    names = [f"agent-{i:02d}" for i in range(7)]
    for name in reversed(names):
        assert _create(admin_client, name).status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = admin_client.get("/v1/agents", params=params).json()
        seen += [a["name"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    assert pages == 3


def test_lifecycle_with_reasons(admin_client: httpx.Client, users: list[str], live: LiveServer) -> None:
    assert _create(admin_client, "bot").status_code == 201
    r = admin_client.post("/v1/agents/bot/suspend", json={"reason": "owner on leave"})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["status_reason"]) == ("suspended", "owner on leave")
    assert admin_client.post("/v1/agents/bot/resume", json={"reason": "back"}).json()["status"] == "active"
    assert admin_client.post("/v1/agents/bot/quarantine", json={"reason": "odd traffic"}).json()["status"] == (
        "quarantined"
    )
    assert admin_client.post("/v1/agents/bot/retire", json={"reason": "replaced"}).json()["status"] == "retired"

    again = admin_client.post("/v1/agents/bot/resume", json={"reason": "oops"})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert "retired" in again.json()["message"]

    missing_reason = admin_client.post("/v1/agents/bot/suspend", json={"reason": ""})
    assert missing_reason.status_code == 422
    assert missing_reason.json()["field"] == "reason"

    events = admin_client.get("/v1/events", params={"target_type": "agent", "target_id": "bot"}).json()["items"]
    assert [e["action"] for e in events] == [
        "agent.retire",
        "agent.quarantine",
        "agent.resume",
        "agent.suspend",
        "agent.create",
    ]
    suspend = events[3]
    assert suspend["reason"] == "owner on leave"
    assert suspend["before"]["status"] == "active"
    assert suspend["after"]["status"] == "suspended"
    assert suspend["actor"].startswith("token:tok_")
    assert suspend["schema"] == "remit.change/v1"


def test_owner_must_exist_and_be_active(admin_client: httpx.Client, users: list[str]) -> None:
    r = _create(admin_client, "orphan", owner="nobody")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert r.json()["field"] == "owner"
    assert "not a registered user" in r.json()["message"]

    assert admin_client.patch("/v1/users/bob", json={"status": "disabled"}).status_code == 200
    r = _create(admin_client, "orphan", owner="bob")
    assert r.status_code == 422
    assert r.json()["field"] == "owner"
    assert "disabled" in r.json()["message"]
    assert admin_client.get("/v1/agents/orphan").status_code == 404


def test_duplicate_name_is_409_and_keeps_the_first(admin_client: httpx.Client, users: list[str]) -> None:
    assert _create(admin_client, "bot", purpose="first").status_code == 201
    r = _create(admin_client, "bot", owner="bob", purpose="second")
    assert r.status_code == 409
    assert r.json() == {"code": "conflict", "message": "an agent named 'bot' already exists", "field": "name"}
    kept = admin_client.get("/v1/agents/bot").json()
    assert (kept["owner"], kept["purpose"]) == ("alice", "first")


def test_update_and_transfer(admin_client: httpx.Client, users: list[str]) -> None:
    assert _create(admin_client, "bot").status_code == 201
    r = admin_client.patch("/v1/agents/bot", json={"purpose": "new purpose", "clearance": 3, "owner": "bob"})
    assert r.status_code == 200
    assert (r.json()["purpose"], r.json()["clearance"], r.json()["owner"]) == ("new purpose", 3, "bob")
    bad_owner = admin_client.patch("/v1/agents/bot", json={"owner": "ghost"})
    assert bad_owner.status_code == 422
    assert bad_owner.json()["field"] == "owner"
    assert admin_client.get("/v1/agents/bot").json()["owner"] == "bob"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "bot", "owner": "alice", "colour": "red"}, "colour"),
        ({"name": "Bad Name!", "owner": "alice"}, "name"),
        ({"name": "bot", "owner": "alice", "clearance": "high"}, "clearance"),
        ({"name": "bot", "owner": "alice", "clearance": 11}, "clearance"),
        ({"name": "bot", "owner": "alice", "risk_tier": "extreme"}, "risk_tier"),
        ({"name": "bot", "owner": "alice", "attributes": {"Bad-Key": 1}}, "attributes.Bad-Key"),
        ({"name": "bot", "owner": "alice", "attributes": {"n": 2**64}}, "attributes.n"),
        ({"name": "bot", "owner": "alice", "purpose": "nul\x00byte"}, "purpose"),
        ({"name": "bot", "owner": "alice", "purpose": "x" * 1001}, "purpose"),
        ({"owner": "alice"}, "name"),
    ],
)
def test_bad_fields_are_named(
    admin_client: httpx.Client, users: list[str], payload: dict[str, object], field: str
) -> None:
    r = admin_client.post("/v1/agents", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"
    assert r.json()["field"] == field
    assert admin_client.get("/v1/agents").json()["items"] == []


def test_malformed_and_oversized_bodies(admin_client: httpx.Client, users: list[str], live: LiveServer) -> None:
    r = admin_client.post("/v1/agents", content=b'{"name": "bot",', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "malformed_json"

    big = b'{"name": "bot", "owner": "alice", "purpose": "' + b"x" * 2_000_000 + b'"}'
    r = admin_client.post("/v1/agents", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536

    r = admin_client.post("/v1/agents", content=chunks(), headers={"content-type": "application/json"})  # type: ignore[arg-type]
    assert r.status_code == 413

    r = admin_client.post("/v1/agents", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert r.status_code == 422

    r = admin_client.post("/v1/agents")
    assert r.status_code == 400
    assert r.json()["code"] == "missing_body"
    assert admin_client.get("/v1/agents").json()["items"] == []


def test_bad_ids_cursors_and_limits(admin_client: httpx.Client, users: list[str]) -> None:
    r = admin_client.get("/v1/agents/NOT%20AN%20ID")
    assert r.status_code == 422
    assert r.json()["field"] == "name"
    assert admin_client.get("/v1/agents/unknown").status_code == 404
    r = admin_client.get("/v1/agents", params={"cursor": "%%%not-base64"})
    assert r.status_code == 422
    assert r.json()["field"] == "cursor"
    r = admin_client.get("/v1/agents", params={"limit": 500})
    assert r.status_code == 422
    assert r.json()["field"] == "limit"
    r = admin_client.get("/v1/agents", params={"status": "sleeping"})
    assert r.status_code == 422
    assert r.json()["field"] == "status"
    r = admin_client.get("/v1/events", params={"cursor": "YWJj"})
    assert r.status_code == 422
    assert r.json()["field"] == "cursor"
