"""Revoking an access token as an admin (``POST /v1/tokens/revoke``, ``remit token revoke --jti``).

The token is named either by itself (it must verify against Remit's keys: its ``jti``, agent and expiry are read
from it) or by its ``jti`` and its agent (the token is not at hand: it is kept revoked for the longest lifetime a
token can have). The caller needs ``token.revoke`` on the agent: admins on every agent, owners on their own
(quarantined ones included: revoking only takes access away). The ``jti`` goes to ``revoked_tokens``, shared by
every server, and the revocation is recorded in the audit log (``token.revoke``, the admin as the actor, the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from remit.admin.access import Act, AdminPrincipal, AgentTarget, authorize
from remit.audit.record import AUDIT_SCHEMA, Kind, timestamp
from remit.clock import Clock
from remit.errors import NotFound, ValidationError
from remit.ids import new_id
from remit.registry.models import AGENT_NAME, check_text
from remit.store.repository import SqlStore
from remit.store.revocations import RevocationStore
from remit.tokens.endpoint import MAX_JTI_CHARS, RecordAudit
from remit.tokens.errors import TokenError
from remit.tokens.introspection import TokenIntrospection, revoked_until
from remit.tokens.keys import CLOCK_LEEWAY

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Revocation:
    """The outcome: which token, whose, until when it stays in ``revoked_tokens``."""

    jti: str
    agent: str
    expires_at: datetime
    newly: bool  #: False when it had been revoked before (recorded then)


class AdminRevocation:
    """Admins and owners revoke access tokens by the token itself or by ``jti`` and agent."""

    def __init__(
        self,
        *,
        introspection: TokenIntrospection,
        store: SqlStore,
        revocations: RevocationStore,
        clock: Clock,
        max_lifetime: int,
        record: RecordAudit | None = None,
    ) -> None:
        self._introspection = introspection
        self._store = store
        self._revocations = revocations
        self._clock = clock
        self._max_lifetime = timedelta(seconds=max_lifetime)
        self._record = record

    def revoke(
        self,
        p: AdminPrincipal,
        *,
        token: str | None = None,
        jti: str | None = None,
        agent: str | None = None,
        reason: str = "",
    ) -> Revocation:
        """Revoke one access token. Raises ``ValidationError`` for a token that does not verify or a jti or agent
        that does not match it, ``NotFound`` for an unknown (or, to an owner, another owner's) agent."""
        check_text(reason, "reason", MAX_REASON)
        now = self._clock.now()
        if token is not None:
            jti, agent, until = self._from_token(token, jti, agent, now)
        else:
            if not jti or agent is None:
                raise ValidationError("name the token, or its jti and its agent", field="jti")
            if len(jti) > MAX_JTI_CHARS or not jti.isprintable():
                raise ValidationError(f"a jti is at most {MAX_JTI_CHARS} printable characters", field="jti")
            until = now + self._max_lifetime + CLOCK_LEEWAY  # outlives any token issued before now
        owner = self._authorize(p, agent)
        newly = self._revocations.revoke(jti, agent, until, now)
        if newly and self._record is not None:
            self._record(
                {
                    "schema": AUDIT_SCHEMA,
                    "id": new_id("rv"),
                    "at": timestamp(now),
                    "kind": Kind.TOKEN.value,
                    "action": "token.revoke",
                    "source": "admin",
                    "actor": p.actor,
                    "principal": {"type": "Agent", "id": agent, "owner": owner},
                    "resource": {"type": "access_token", "id": jti},
                    "context": {"reason": reason, "by": "token" if token is not None else "jti"},
                }
            )
        return Revocation(jti=jti, agent=agent, expires_at=until, newly=newly)

    def _from_token(self, token: str, jti: str | None, agent: str | None, now: datetime) -> tuple[str, str, datetime]:
        try:
            verified = self._introspection.verify(token, check_revoked=False)
        except TokenError as exc:
            raise ValidationError(f"the token cannot be revoked: {exc.message}", field="token") from None
        client = verified.claims.get("client_id")
        if not isinstance(client, str) or not verified.jti:  # pragma: no cover - required claims, checked above
            raise ValidationError("the token names no client_id or jti", field="token")
        if jti is not None and jti != verified.jti:
            raise ValidationError("the jti is not the token's", field="jti")
        if agent is not None and agent != client:
            raise ValidationError("the agent is not the token's", field="agent")
        if len(verified.jti) > MAX_JTI_CHARS:  # pragma: no cover - Remit's own jti values are short
            raise ValidationError("the token's jti is too long to be stored", field="token")
        return verified.jti, client, revoked_until(verified, now)

    def _authorize(self, p: AdminPrincipal, agent: str) -> str:
        """The agent's owner, once ``p`` may revoke its tokens."""
        found = None
        if AGENT_NAME.fullmatch(agent):
            with self._store.transaction(readonly=True) as tx:
                found = tx.get_agent(agent)
        if found is None:
            raise NotFound(f"no such agent {agent!r}", field="name")
        authorize(p, Act.TOKEN_REVOKE, AgentTarget(owner=found.owner, status=found.status.value, name=found.name))
        return found.owner
