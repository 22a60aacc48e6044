"""The agent client service: read and change an agent's OAuth client metadata (``AgentClient``), and answer the
token endpoint's question "must this agent use DPoP?".

Owners change the client metadata of their own agents; admins of all; auditors read. Every change is a change event
(``agent_client.update``, before and after), so it reaches the change feed and the audit chain.
"""

from __future__ import annotations

from datetime import datetime

from remit.admin.access import Act, AdminPrincipal
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.registry.models import Agent
from remit.registry.service import snapshot
from remit.store.agentclients import AgentClientStore
from remit.tokens.agentcreds import agent_event, authorized_agent, changeable_agent
from remit.tokens.clients import AgentClient


class AgentClientService:
    """Agents' client metadata, over the shared store."""

    def __init__(self, store: AgentClientStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def get(self, p: AdminPrincipal, agent_name: str) -> AgentClient:
        """The agent's client metadata (the defaults when none was ever set)."""
        with self._store.reading() as tx:
            authorized_agent(tx, p, Act.AGENT_CLIENT_READ, agent_name)
            return tx.get(agent_name) or AgentClient(agent=agent_name)

    def update(
        self,
        p: AdminPrincipal,
        agent_name: str,
        *,
        dpop_bound_access_tokens: bool | None = None,
        jwks_uri: str | None = None,
    ) -> AgentClient:
        """Change the given members (None leaves one as it is). Raises ``NotFound`` for an unknown agent (or one the
        caller may not see), ``Conflict`` for a retired one. A call that changes nothing records nothing."""
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = changeable_agent(tx, p, Act.AGENT_CLIENT_UPDATE, agent_name)
            before = tx.get(agent_name)
            current = before or AgentClient(agent=agent_name)
            wanted = current.dpop_bound_access_tokens if dpop_bound_access_tokens is None else dpop_bound_access_tokens
            uri = current.jwks_uri if jwks_uri is None else jwks_uri
            if (wanted, uri) == (current.dpop_bound_access_tokens, current.jwks_uri):
                return current
            after = AgentClient(
                agent=agent_name, dpop_bound_access_tokens=wanted, jwks_uri=uri, updated_at=now, updated_by=p.actor
            )
            tx.put(after)
            tx.add_event(_event(now, p.actor, agent, before or current, after))
        return after

    def set_dpop_bound_access_tokens(self, p: AdminPrincipal, agent_name: str, required: bool) -> AgentClient:
        """Set the RFC 9449 §5.2 client metadata ``dpop_bound_access_tokens``: when true, the token endpoint refuses
        the agent's token requests that carry no DPoP proof. What a client registration applies."""
        return self.update(p, agent_name, dpop_bound_access_tokens=required)

    # -- for the token endpoint -------------------------------------------------------------------------------

    def jwks_uri(self, agent_name: str) -> str | None:
        """Where the agent publishes its keys, if it registered a ``jwks_uri`` (read from the store on every call)."""
        with self._store.reading() as tx:
            client = tx.get(agent_name)
        return client.jwks_uri if client is not None else None

    def requires_dpop(self, agent_name: str) -> bool:
        """Whether every token request of the agent must carry a DPoP proof (read from the store on every call)."""
        with self._store.reading() as tx:
            client = tx.get(agent_name)
        return client is not None and client.dpop_bound_access_tokens


def _event(now: datetime, actor: str, agent: Agent, before: AgentClient, after: AgentClient) -> ChangeEvent:
    return agent_event(now, actor, "agent_client.update", agent, snapshot(before), snapshot(after))
