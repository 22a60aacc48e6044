"""Agent keys and client assertion ``jti`` values: ``agent_keys`` and ``assertion_jtis`` rows, in the registry
store's transactions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from remit.errors import Conflict
from remit.store.scoped import ScopedStore, ScopedTx
from remit.store.tables import AgentKeyRow, AssertionJtiRow
from remit.tokens.agentkeys import AgentKey


class AgentKeyTx(ScopedTx):
    """The agent key queries of one transaction."""

    def get(self, kid: str) -> AgentKey | None:
        row = self._s.get(AgentKeyRow, kid)
        return None if row is None else _key(row)

    def of_agent(self, agent: str) -> list[AgentKey]:
        """The agent's keys, oldest first."""
        q = select(AgentKeyRow).where(AgentKeyRow.agent == agent).order_by(AgentKeyRow.created_at, AgentKeyRow.kid)
        return [_key(row) for row in self._s.scalars(q)]

    def insert(self, key: AgentKey) -> None:
        self._s.add(
            AgentKeyRow(
                kid=key.kid,
                agent=key.agent,
                alg=key.alg,
                public_jwk=key.jwk,
                created_at=key.created_at,
                created_by=key.created_by,
                revoked_at=key.revoked_at,
            )
        )
        self._s.flush()

    def revoke(self, kid: str, at: datetime) -> None:
        row = self._existing(AgentKeyRow, kid, "agent key", "revoked")
        row.revoked_at = at
        self._s.flush()


class AgentKeyStore(ScopedStore[AgentKeyTx]):
    """``agent_keys`` and ``assertion_jtis`` over the registry's ``SqlStore``."""

    scope = AgentKeyTx

    def first_use(self, issuer: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``jti`` of ``issuer`` until ``expires_at``; False if it is already recorded (a replay). Prunes the
        expired entries of this issuer first, so that the table holds only what can still be replayed."""
        try:
            with self._store.transaction(uncached=True) as tx:
                s = tx.s
                expired = AssertionJtiRow.expires_at <= now
                s.execute(delete(AssertionJtiRow).where(AssertionJtiRow.issuer == issuer, expired))
                if s.get(AssertionJtiRow, (issuer, jti)) is not None:
                    return False
                s.add(AssertionJtiRow(issuer=issuer, jti=jti, expires_at=expires_at))
                s.flush()
        except Conflict:  # another request committed the same jti first
            return False
        return True


def _key(row: AgentKeyRow) -> AgentKey:
    return AgentKey(
        kid=row.kid,
        agent=row.agent,
        alg=row.alg,
        jwk=dict(row.public_jwk),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )
