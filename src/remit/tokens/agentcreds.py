"""What the services of agents' credentials (keys, legacy API keys, certificates, client metadata) share: the agent
a request names, the target it is authorized as, and the change event recording a change to one of its credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from remit.admin.access import Act, AdminPrincipal, AgentTarget, authorize
from remit.audit.events import ChangeEvent
from remit.errors import Conflict, NotFound
from remit.ids import new_id
from remit.registry.models import Agent, AgentStatus


class AgentTx(Protocol):
    """A transaction that reads the registry's agents."""

    def get_agent(self, name: str) -> Agent | None: ...


def authorized_agent(tx: AgentTx, p: AdminPrincipal, act: Act, name: str) -> Agent:
    """The agent ``name``, once ``p`` is authorized to ``act`` on it. Raises ``NotFound`` naming the ``name`` field
    when there is no such agent, ``Forbidden`` as ``authorize`` does."""
    agent = tx.get_agent(name)
    if agent is None:
        raise NotFound(f"no such agent {name!r}", field="name")
    authorize(p, act, agent_target(agent))
    return agent


def changeable_agent(tx: AgentTx, p: AdminPrincipal, act: Act, name: str) -> Agent:
    """As ``authorized_agent``, and ``Conflict`` for a retired agent: its credentials no longer change."""
    agent = authorized_agent(tx, p, act, name)
    if agent.status is AgentStatus.RETIRED:
        raise Conflict(f"agent {name!r} is retired and can no longer be changed")
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
