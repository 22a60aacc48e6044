"""Agent keys and client assertion ``jti`` values: ``agent_keys`` and ``assertion_jtis`` rows, in the registry
store's transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, select

from remit.audit.events import ChangeEvent
from remit.errors import Conflict, StoreError
from remit.registry.models import Agent, User
from remit.store.repository import SqlStore, SqlTx
from remit.store.tables import AgentKeyRow, AssertionJtiRow
from remit.tokens.agentkeys import AgentKey


class AgentKeyStore:
    """``agent_keys`` and ``assertion_jtis`` over the registry's ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @contextmanager
    def reading(self) -> Iterator[AgentKeyTx]:
        with self._store.transaction(readonly=True) as tx:
            yield AgentKeyTx(tx)

    @contextmanager
    def changing(self) -> Iterator[AgentKeyTx]:
        with self._store.transaction() as tx:
            yield AgentKeyTx(tx)

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


class AgentKeyTx:
    """The agent key queries of one transaction."""

    def __init__(self, tx: SqlTx) -> None:
        self._tx = tx
        self._s = tx.s

    def get_agent(self, name: str) -> Agent | None:
        return self._tx.get_agent(name)

    def get_user(self, user_id: str) -> User | None:
        return self._tx.get_user(user_id)

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
        row = self._s.get(AgentKeyRow, kid)
        if row is None:
            raise StoreError(f"agent key {kid} vanished while it was being revoked")
        row.revoked_at = at
        self._s.flush()

    def add_event(self, event: ChangeEvent) -> None:
        self._tx.add_event(event)


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
