"""Agents' OAuth client metadata (``dpop_bound_access_tokens``, RFC 9449 §5.2) against the real store: every test
runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from remit.admin.access import AdminPrincipal
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, NotFound
from remit.paging import PageRequest
from remit.registry import AgentAction
from remit.registry.ports import EventFilter
from remit.store.audit import AuditFilter
from remit.tokens.clients import AgentClient
from tests.conftest import OwnerFactory
from tests.tokens.conftest import raised


@pytest.mark.usefixtures("agents")
def test_defaults_then_set_and_cleared(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory
) -> None:
    alice = make_owner("alice")
    clients = remit.agent_clients
    assert clients.get(alice, "helpdesk") == AgentClient(agent="helpdesk")
    assert clients.requires_dpop("helpdesk") is False
    assert clients.requires_dpop("nobody") is False

    clock.advance(timedelta(seconds=5))
    required = clients.set_dpop_bound_access_tokens(alice, "helpdesk", True)
    assert required == AgentClient("helpdesk", True, clock.now(), alice.actor)
    assert clients.get(admin, "helpdesk") == required
    assert clients.requires_dpop("helpdesk") is True
    assert clients.requires_dpop("billing") is False  # per agent

    clock.advance(timedelta(seconds=5))
    assert clients.update(alice, "helpdesk") == required  # nothing asked: nothing changes, nothing recorded
    assert clients.update(admin, "helpdesk", dpop_bound_access_tokens=True) == required
    cleared = clients.update(admin, "helpdesk", dpop_bound_access_tokens=False)
    assert cleared == AgentClient("helpdesk", False, clock.now(), admin.actor)
    assert clients.requires_dpop("helpdesk") is False

    where = EventFilter(target_type="agent", target_id="helpdesk")
    events = list(remit.registry.list_events(admin, where, PageRequest(limit=100)).items)
    changes = [(e.actor, e.before or {}, e.after or {}) for e in events if e.action == "agent_client.update"]
    assert [(actor, b["dpop_bound_access_tokens"], a["dpop_bound_access_tokens"]) for actor, b, a in changes] == [
        (admin.actor, True, False),
        (alice.actor, False, True),
    ]
    defaults = {
        "agent": "helpdesk",
        "dpop_bound_access_tokens": False,
        "updated_at": None,
        "updated_by": None,
        "jwks_uri": None,
    }
    assert changes[1][1] == defaults


@pytest.mark.usefixtures("agents")
def test_owners_see_and_change_only_their_own_agents(
    remit: Remit, admin: AdminPrincipal, auditor: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    alice = make_owner("alice")
    clients = remit.agent_clients
    for call in (
        lambda: clients.get(alice, "billing"),
        lambda: clients.set_dpop_bound_access_tokens(alice, "billing", True),
        lambda: clients.get(alice, "ghost"),
    ):
        hidden = raised(NotFound, call)
        assert hidden.field == "name" and hidden.message.startswith("no such agent")
    assert clients.requires_dpop("billing") is False
    assert clients.get(auditor, "billing").dpop_bound_access_tokens is False
    refused = raised(Forbidden, lambda: clients.set_dpop_bound_access_tokens(auditor, "billing", True))
    assert refused.message == "role auditor may not agent_client.update"


@pytest.mark.usefixtures("agents")
def test_quarantined_and_retired_agents(remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.QUARANTINE, "leaked key")
    assert remit.agent_clients.set_dpop_bound_access_tokens(alice, "helpdesk", True).dpop_bound_access_tokens
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.RETIRE, "done")
    retired = raised(Conflict, lambda: remit.agent_clients.set_dpop_bound_access_tokens(admin, "helpdesk", False))
    assert retired.message == "agent 'helpdesk' is retired and can no longer be changed"
    assert remit.agent_clients.requires_dpop("helpdesk") is True


@pytest.mark.usefixtures("agents")
def test_owners_find_the_changes_in_the_audit_log(
    remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    remit.agent_clients.set_dpop_bound_access_tokens(admin, "helpdesk", True)
    remit.agent_clients.set_dpop_bound_access_tokens(admin, "billing", True)
    seen = remit.audit.query(make_owner("alice"), AuditFilter(kind="change"), PageRequest(limit=50)).items
    [record] = [r for r in seen if r["action"] == "agent_client.update"]
    assert record["target"] == {"type": "agent", "id": "helpdesk"}
    assert record["before"]["dpop_bound_access_tokens"] is False
    assert record["after"]["dpop_bound_access_tokens"] is True
