"""The agent key service: register, list and revoke the public keys agents authenticate with at the token
endpoint (``private_key_jwt``, RFC 7523), and find an agent's usable key for a client assertion.

Owners manage the keys of their own agents (a new key for a quarantined agent waits for an admin's release); admins
manage all. Every change is a change event, so it reaches the change feed and the audit chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from remit.admin.access import Act, AdminPrincipal
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound
from remit.registry.models import Agent
from remit.registry.service import snapshot
from remit.store.agentkeys import AgentKeyStore
from remit.tokens import jose
from remit.tokens.agentcreds import agent_event, authorized_agent, changeable_agent
from remit.tokens.agentkeys import MAX_ACTIVE_KEYS, AgentKey, accept_jwk


class AgentKeyService:
    """Agents' client authentication keys, over the shared store."""

    def __init__(self, store: AgentKeyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(self, p: AdminPrincipal, agent_name: str, jwk: Mapping[str, Any]) -> AgentKey:
        """Register a public JWK for ``agent_name``. Raises ``InvalidKey`` for a key that cannot be used,
        ``Conflict`` for one already registered or an agent with ``MAX_ACTIVE_KEYS`` keys or retired."""
        key = accept_jwk(jwk)
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = changeable_agent(tx, p, Act.AGENT_KEY_ADD, agent_name)
            if tx.get(key.kid) is not None:
                raise Conflict(f"the key {key.kid} is already registered", field="jwk")
            if sum(k.active for k in tx.of_agent(agent_name)) >= MAX_ACTIVE_KEYS:
                raise Conflict(f"agent {agent_name!r} has {MAX_ACTIVE_KEYS} keys: revoke one first")
            made = AgentKey(
                kid=key.kid,
                agent=agent_name,
                alg=key.alg,
                jwk=key.to_jwk(),
                created_at=now,
                created_by=p.actor,
            )
            tx.insert(made)
            tx.add_event(_event(now, p.actor, "agent_key.add", agent, None, made))
        return made

    def list(self, p: AdminPrincipal, agent_name: str) -> tuple[AgentKey, ...]:
        """The agent's keys, revoked ones included, oldest first."""
        with self._store.reading() as tx:
            authorized_agent(tx, p, Act.AGENT_KEY_READ, agent_name)
            return tuple(tx.of_agent(agent_name))

    def revoke(self, p: AdminPrincipal, agent_name: str, kid: str) -> AgentKey:
        """Revoke a key: client assertions it signs are refused from now on. Revoking is final."""
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = authorized_agent(tx, p, Act.AGENT_KEY_REVOKE, agent_name)
            before = tx.get(kid)
            if before is None or before.agent != agent_name:
                raise NotFound(f"agent {agent_name!r} has no key {kid!r}", field="kid")
            if before.revoked_at is not None:
                raise Conflict(f"the key {kid} is already revoked")
            tx.revoke(kid, now)
            after = replace(before, revoked_at=now)
            tx.add_event(_event(now, p.actor, "agent_key.revoke", agent, before, after))
        return after

    # -- for the token endpoint -------------------------------------------------------------------------------

    def registered(self, kid: str) -> bool:
        """Whether a key with this thumbprint is registered, to any agent, revoked or not."""
        with self._store.reading() as tx:
            return tx.get(kid) is not None

    def usable(self, agent_name: str, kid: str) -> jose.PublicKey | None:
        """The unrevoked key ``kid`` of ``agent_name``, or None."""
        with self._store.reading() as tx:
            key = tx.get(kid)
        if key is None or key.agent != agent_name or not key.active:
            return None
        return key.public_key()


def _event(now: Any, actor: str, action: str, agent: Agent, before: AgentKey | None, after: AgentKey) -> ChangeEvent:
    extra = {"kid": after.kid, "alg": after.alg}
    return agent_event(now, actor, action, agent, snapshot(before), snapshot(after), extra=extra)
