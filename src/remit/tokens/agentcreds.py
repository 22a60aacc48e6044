"""What the services of agents' credentials (keys, legacy API keys, certificates, client metadata) share: the agent
a request names, the target it is authorized as, and the change event recording a change to one of its credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from remit.admin.access import AgentTarget
from remit.audit.events import ChangeEvent
from remit.errors import NotFound
from remit.ids import new_id
from remit.registry.models import Agent


class AgentTx(Protocol):
    """A transaction that reads the registry's agents."""

    def get_agent(self, name: str) -> Agent | None: ...


def agent_named(tx: AgentTx, name: str) -> Agent:
    """The agent ``name``; ``NotFound`` naming the ``name`` field when there is none."""
    agent = tx.get_agent(name)
    if agent is None:
        raise NotFound(f"no such agent {name!r}", field="name")
    return agent


def agent_target(agent: Agent) -> AgentTarget:
    """What authorization checks a change to the agent's credentials against."""
    return AgentTarget(owner=agent.owner, status=agent.status.value, name=agent.name)


def agent_event(
    now: datetime,
    actor: str,
    action: str,
    agent: Agent,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    reason: str = "",
    extra: Mapping[str, Any] | None = None,
) -> ChangeEvent:
    """The change event of one of the agent's credentials: ``extra`` and then the agent's owner, so that the owner
    finds it in the audit log."""
    return ChangeEvent(
        id=new_id("evt"),
        at=now,
        actor=actor,
        action=action,
        target_type="agent",
        target_id=agent.name,
        before=before,
        after=after,
        reason=reason,
        extra={**(extra or {}), "owner": agent.owner},
    )
