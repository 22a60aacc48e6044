"""What the tests of agents' credentials share: two owners with one agent each, and catching a Remit error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.errors import RemitError
from remit.registry import AgentDraft, UserDraft

E = TypeVar("E", bound=RemitError)


def raised(kind: type[E], call: Callable[[], object]) -> E:
    """The ``kind`` error that ``call`` raises; fails the test when it raises none."""
    try:
        call()
    except kind as exc:
        return exc
    raise AssertionError(f"{kind.__name__} not raised")


@pytest.fixture
def agents(remit: Remit, admin: AdminPrincipal) -> None:
    """Users alice and bob, owning the agents helpdesk and billing."""
    for user in ("alice", "bob"):
        remit.registry.create_user(admin, UserDraft(id=user, email=f"{user}@example.org"))
    remit.registry.create_agent(admin, AgentDraft(name="helpdesk", owner="alice"))
    remit.registry.create_agent(admin, AgentDraft(name="billing", owner="bob"))
