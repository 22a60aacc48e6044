"""An agent that is suspended, quarantined or retired, or whose owner is disabled, is refused at ``/oauth/token``
(``invalid_client``) and its token is ``{"active": false}`` at introspection on the very next request: on SQLite and
PostgreSQL, with the change made by another app instance on the same store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from remit.clock import FrozenClock
from remit.container import Remit
from remit.registry import AgentAction, UserChanges, UserStatus
from remit.settings import Settings
from remit.tokens import jose
from tests.api.conftest import LiveServer
from tests.api.test_oauth_introspect import introspect, issue, pep
from tests.api.test_oauth_token import ADMIN, agent_key, client, form, refused

__all__ = ["agent_key", "client", "pep"]  # fixtures re-used from the token endpoint's tests

Change = Callable[[Remit], object]

CHANGES: dict[str, tuple[Change, str]] = {
    "suspended": (
        lambda r: r.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.SUSPEND, "on leave"),
        "the client is suspended",
    ),
    "quarantined": (
        lambda r: r.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.QUARANTINE, "leaked key"),
        "the client is quarantined",
    ),
    "retired": (
        lambda r: r.registry.change_agent_status(ADMIN, "helpdesk", AgentAction.RETIRE, "replaced"),
        "the client is retired",
    ),
    "owner disabled": (
        lambda r: r.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.DISABLED)),
        "the client's owner is disabled",
    ),
}


@pytest.fixture
def second(settings: Settings, clock: FrozenClock, live: LiveServer) -> Iterator[Remit]:
    """Another app instance on the same store."""
    other = Remit.from_settings(settings, clock=clock, migrate_schema=False)
    other.audit_log.start()  # as a server does: its introspections are recorded
    try:
        yield other
    finally:
        other.close()


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_agent_is_refused_and_its_token_inactive_on_the_next_request(
    change: str,
    live: LiveServer,
    second: Remit,
    client: httpx.Client,
    pep: httpx.Client,
    agent_key: jose.SigningKey,
) -> None:
    token = issue(live, client, agent_key)
    assert introspect(pep, token)["active"] is True
    assert second.introspection.introspect({"token": [token]})["active"] is True
    make, description = CHANGES[change]
    make(second)  # on the other instance: this server learns it from the store
    assert refused(client.post("/oauth/token", data=form(live, agent_key)), 401, "invalid_client") == description
    assert introspect(pep, token) == {"active": False}
    assert second.introspection.introspect({"token": [token]}) == {"active": False}
