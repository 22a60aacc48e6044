"""A status change is in force for AuthZEN decisions on the very next request: on the server that made it at once
(SQLite and PostgreSQL), and on every other server of a PostgreSQL store as soon as the notification arrives, by
polling when the listening connection is gone, which comes back by itself.

The servers poll the store only every minute here (except where polling is the point), so that only the immediate
paths can pass these tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.registry.models import AgentAction, ResourceKind, UserStatus
from remit.registry.service import AgentChanges, AgentDraft, ResourceDraft, UserChanges, UserDraft
from remit.settings import load_settings
from remit.store.notify import PgChangeFeed
from tests.api.conftest import serve

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
EVALUATION = "/access/v1/evaluation"
SLOW_POLL = 60.0  #: seconds: longer than any test here
WAIT = 10.0  #: seconds: the bound of every wait on an event

POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)], indirect=True
)


def _app(tmp_path: Path, database_url: str, clock: FrozenClock, *, poll: float, name: str) -> Remit:
    home = tmp_path / name
    home.mkdir()
    settings = load_settings(home=home, database_url=database_url, policy_refresh_seconds=poll)
    return Remit.from_settings(settings, clock=clock)


@pytest.fixture
def slow(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[Remit]:
    """A server polling the store only every minute."""
    app = _app(tmp_path, database_url, clock, poll=SLOW_POLL, name="a")
    try:
        yield app
    finally:
        app.close()


def _estate(remit: Remit) -> None:
    """alice owns the agent bot; bob is another user; one MCP server; a policy allowing everything (only the guard
    says no)."""
    remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    remit.registry.create_user(ADMIN, UserDraft(id="bob", email="bob@example.org"))
    remit.registry.create_agent(ADMIN, AgentDraft(name="bot", owner="alice"))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    remit.policies.apply(ADMIN, '@id("all")\npermit(principal, action, resource);')


def _decide(client: httpx.Client) -> tuple[bool, str | None]:
    """AuthZEN: may agent bot call the helpdesk server? (decision, the guard's or policies' deny code)"""
    body = {
        "subject": {"type": "agent", "id": "bot"},
        "action": {"name": "call"},
        "resource": {"type": "mcp_server", "id": "helpdesk"},
    }
    response = client.post(EVALUATION, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    reason = answer.get("context", {}).get("reason")
    return answer["decision"], reason["code"] if reason else None


def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def test_a_status_change_through_the_admin_api_is_in_force_on_the_next_decision(slow: Remit) -> None:
    _estate(slow)
    with serve(slow) as live, live.client(live.admin_token) as admin:  # the server compiles the estate on start
        assert _decide(admin) == (True, None)

        _ok(admin.post("/v1/agents/bot/suspend", json={"reason": "on leave"}))
        assert _decide(admin) == (False, "agent_inactive")
        _ok(admin.post("/v1/agents/bot/resume", json={"reason": "back"}))
        assert _decide(admin) == (True, None)
        _ok(admin.post("/v1/agents/bot/quarantine", json={"reason": "leaked key"}))
        assert _decide(admin) == (False, "agent_inactive")
        _ok(admin.post("/v1/agents/bot/resume", json={"reason": "key rotated"}))
        assert _decide(admin) == (True, None)

        _ok(admin.patch("/v1/users/alice", json={"status": "disabled"}))
        assert _decide(admin) == (False, "owner_disabled")
        _ok(admin.patch("/v1/users/alice", json={"status": "active"}))
        assert _decide(admin) == (True, None)

        _ok(admin.post("/v1/agents/bot/retire", json={"reason": "replaced"}))
        assert _decide(admin) == (False, "agent_inactive")


def test_an_in_process_status_change_is_in_force_before_the_call_returns(slow: Remit) -> None:
    _estate(slow)
    authorizer = slow.authorizer()  # compiles the state once

    def decide() -> tuple[bool, str | None]:
        decision = authorizer.check(("agent", "bot"), "call", ("mcp_server", "helpdesk"))
        return decision.allowed, decision.deny_code.value if decision.deny_code else None

    assert decide() == (True, None)
    slow.registry.change_agent_status(ADMIN, "bot", AgentAction.SUSPEND, "on leave")
    assert decide() == (False, "agent_inactive")
    slow.registry.change_agent_status(ADMIN, "bot", AgentAction.RESUME, "back")
    assert decide() == (True, None)
    slow.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.DISABLED))
    assert decide() == (False, "owner_disabled")
    slow.registry.update_agent(ADMIN, "bot", AgentChanges(owner="bob"))  # to another active owner
    assert decide() == (True, None)


@POSTGRES_ONLY
def test_a_suspension_on_one_server_reaches_another_by_notification(
    slow: Remit, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    _estate(slow)
    other = _app(tmp_path, database_url, clock, poll=SLOW_POLL, name="b")
    try:
        with serve(slow) as a, serve(other) as b, a.client(a.admin_token) as on_a, b.client(b.admin_token) as on_b:
            feed = other.refresher.feed
            assert isinstance(feed, PgChangeFeed)
            assert feed.wait_listening(WAIT) is not None
            assert _decide(on_b) == (True, None)

            _ok(on_a.post("/v1/agents/bot/suspend", json={"reason": "on leave"}))
            assert other.refresher.wait_heard(slow.policies.revision(), WAIT)
            assert _decide(on_b) == (False, "agent_inactive")

            _ok(on_a.post("/v1/agents/bot/resume", json={"reason": "back"}))
            assert other.refresher.wait_heard(slow.policies.revision(), WAIT)
            assert _decide(on_b) == (True, None)

            _ok(on_a.patch("/v1/users/alice", json={"status": "disabled"}))
            assert other.refresher.wait_heard(slow.policies.revision(), WAIT)
            assert _decide(on_b) == (False, "owner_disabled")
            assert other.refresher.pushed >= 3
    finally:
        other.close()


@POSTGRES_ONLY
def test_without_its_listening_connection_a_server_polls_and_reconnects(
    slow: Remit, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    _estate(slow)
    other = _app(tmp_path, database_url, clock, poll=0.25, name="b")  # the default interval: polling is the point
    try:
        with serve(other) as b, b.client(b.admin_token) as on_b:
            feed = other.refresher.feed
            assert isinstance(feed, PgChangeFeed)
            feed.retry_seconds = 5.0  # long enough to see the poll alone at work
            listener = feed.wait_listening(WAIT)
            assert listener is not None
            assert _decide(on_b) == (True, None)

            with slow.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
            assert feed.wait_listening(WAIT, listening=False) is None
            pushed = other.refresher.pushed

            slow.registry.change_agent_status(ADMIN, "bot", AgentAction.SUSPEND, "on leave")
            assert other.refresher.wait_heard(slow.policies.revision(), WAIT)  # by the poll: nobody listened
            assert _decide(on_b) == (False, "agent_inactive")
            assert other.refresher.pushed == pushed

            again = feed.wait_listening(WAIT)
            assert again is not None and again != listener
            slow.registry.change_agent_status(ADMIN, "bot", AgentAction.RESUME, "back")
            assert other.refresher.wait_pushed(pushed + 1, WAIT)  # heard again
            assert other.refresher.wait_heard(slow.policies.revision(), WAIT)
            assert _decide(on_b) == (True, None)
    finally:
        other.close()
