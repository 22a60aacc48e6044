"""The legacy API key service: mint (shown once), list, revoke and report agents' static keys, and authenticate an
agent by one at the token endpoint.

Owners manage the keys of their own agents (not a quarantined agent's new ones); admins manage all; auditors read.
Every change is a change event, so it reaches the change feed and the audit chain; the key's hash never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from remit.admin.access import Act, AdminPrincipal, owner_scope
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound, ValidationError
from remit.paging import Page, PageRequest
from remit.registry.models import Agent, AgentStatus, UserStatus
from remit.store.legacykeys import LegacyKeyStore
from remit.tokens import legacykeys
from remit.tokens.agentcreds import agent_event, authorized_agent, changeable_agent
from remit.tokens.errors import InvalidClient
from remit.tokens.legacykeys import MAX_ACTIVE_KEYS, LegacyApiKey

#: told of every legacy key use at the token endpoint: ``accepted`` or ``refused`` (a metric counts them)
OnUse = Callable[[str], None]


class LegacyKeyService:
    """Agents' legacy static API keys, over the shared store."""

    def __init__(self, store: LegacyKeyStore, clock: Clock, *, max_days: int, on_use: OnUse | None = None) -> None:
        self._store = store
        self._clock = clock
        self._max_lifetime = timedelta(days=max_days)
        self._on_use = on_use

    def create(self, p: AdminPrincipal, agent_name: str, expires_at: datetime) -> tuple[LegacyApiKey, str]:
        """Mint a key for ``agent_name``; return it and its value, which is never stored or shown again.

        Raises ``ValidationError`` for an expiry in the past or beyond ``tokens.legacy_key_max_days``, ``Conflict``
        for a retired agent or one with ``MAX_ACTIVE_KEYS`` unrevoked keys."""
        now = self._clock.now()
        if expires_at <= now:
            raise ValidationError("expires_at must be in the future", field="expires_at")
        if expires_at - now > self._max_lifetime:
            days = self._max_lifetime.days
            raise ValidationError(
                f"a legacy API key lives at most {days} days (tokens.legacy_key_max_days)", field="expires_at"
            )
        with self._store.changing() as tx:
            agent = changeable_agent(tx, p, Act.API_KEY_CREATE, agent_name)
            if sum(k.revoked_at is None for k in tx.of_agent(agent_name)) >= MAX_ACTIVE_KEYS:
                raise Conflict(f"agent {agent_name!r} has {MAX_ACTIVE_KEYS} legacy API keys: revoke one first")
            key_id, value, digest = legacykeys.mint()  # argon2: inside the transaction, but only ~25 ms
            key = LegacyApiKey(
                id=key_id,
                agent=agent_name,
                digest=digest,
                created_at=now,
                expires_at=expires_at,
                created_by=p.actor,
            )
            tx.insert(key)
            tx.add_event(_event(now, p.actor, "api_key.create", agent, None, key))
        return key, value

    def list(self, p: AdminPrincipal, agent_name: str) -> tuple[LegacyApiKey, ...]:
        """The agent's keys, revoked and expired ones included, oldest first."""
        with self._store.reading() as tx:
            authorized_agent(tx, p, Act.API_KEY_READ, agent_name)
            return tuple(tx.of_agent(agent_name))

    def revoke(self, p: AdminPrincipal, agent_name: str, key_id: str) -> LegacyApiKey:
        """Revoke a key: the token endpoint refuses it from now on. Final."""
        now = self._clock.now()
        with self._store.changing() as tx:
            agent = authorized_agent(tx, p, Act.API_KEY_REVOKE, agent_name)
            before = tx.get(key_id)
            if before is None or before.agent != agent_name:
                raise NotFound(f"agent {agent_name!r} has no legacy API key {key_id!r}", field="id")
            if before.revoked_at is not None:
                raise Conflict(f"the legacy API key {key_id} is already revoked")
            tx.revoke(key_id, now)
            after = replace(before, revoked_at=now)
            tx.add_event(_event(now, p.actor, "api_key.revoke", agent, before, after))
        return after

    def report(self, p: AdminPrincipal, page: PageRequest) -> Page[tuple[LegacyApiKey, str]]:
        """Every legacy key with its agent's owner, by id: all of them for admins and auditors, an owner's agents'
        for an owner."""
        owner = owner_scope(p, Act.API_KEY_READ)  # raises for a role that reads no keys at all
        with self._store.reading() as tx:
            return tx.report(owner, page)

    # -- for the token endpoint -------------------------------------------------------------------------------

    def authenticate(self, client_id: str, value: str) -> LegacyApiKey:
        """The key ``value`` names, if it is ``client_id``'s, matches, is neither revoked nor expired, and the agent
        and its owner are active; its use is counted. Slow (argon2): call it off the event loop.

        Raises ``InvalidClient``; the description says which check failed only once the secret has matched."""
        try:
            key = self._check(client_id, value)
        except InvalidClient:
            self._told("refused")
            raise
        self._store.record_use(key.id, self._clock.now())
        self._told("accepted")
        return replace(key, use_count=key.use_count + 1, last_used_at=self._clock.now())

    def _check(self, client_id: str, value: str) -> LegacyApiKey:
        parts = legacykeys.split(value)
        if parts is None:
            raise InvalidClient("the client secret is not a Remit legacy API key")
        key_id, secret = parts
        with self._store.reading() as tx:
            key = tx.get(key_id)
            agent = tx.get_agent(client_id) if key is not None and key.agent == client_id else None
            owner = tx.get_user(agent.owner) if agent is not None else None
        if key is None or agent is None:
            legacykeys.waste_time(secret)  # as slow as a wrong secret: timing does not tell which keys exist
            raise InvalidClient("the client credentials are not valid")
        if not legacykeys.verify(key.digest, secret):
            raise InvalidClient("the client credentials are not valid")
        now = self._clock.now()
        if key.revoked_at is not None:
            raise InvalidClient("the legacy API key is revoked")
        if now >= key.expires_at:
            raise InvalidClient("the legacy API key has expired")
        if agent.status is not AgentStatus.ACTIVE:
            raise InvalidClient(f"the client is {agent.status.value}")
        if owner is None or owner.status is not UserStatus.ACTIVE:
            raise InvalidClient("the client's owner is disabled")
        return key

    def _told(self, result: str) -> None:
        if self._on_use is not None:
            self._on_use(result)


def public(key: LegacyApiKey) -> dict[str, Any]:
    """What an event may say about a key: never its hash."""
    return {
        "id": key.id,
        "prefix": key.prefix,
        "agent": key.agent,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat(),
        "created_by": key.created_by,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _event(
    now: datetime, actor: str, action: str, agent: Agent, before: LegacyApiKey | None, after: LegacyApiKey
) -> ChangeEvent:
    before_view = public(before) if before is not None else None
    extra = {"key_id": after.id, "legacy": True}
    return agent_event(now, actor, action, agent, before_view, public(after), extra=extra)
