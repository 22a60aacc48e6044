"""Legacy static API keys: ``legacy_api_keys`` rows, in the registry store's transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select, update

from remit.audit.events import ChangeEvent
from remit.errors import StoreError
from remit.paging import Page, PageRequest
from remit.registry.models import Agent, User
from remit.store.repository import SqlStore, SqlTx
from remit.store.tables import AgentRow, LegacyApiKeyRow
from remit.tokens.legacykeys import LegacyApiKey


class LegacyKeyStore:
    """``legacy_api_keys`` over the registry's ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @contextmanager
    def reading(self) -> Iterator[LegacyKeyTx]:
        with self._store.transaction(readonly=True) as tx:
            yield LegacyKeyTx(tx)

    @contextmanager
    def changing(self) -> Iterator[LegacyKeyTx]:
        with self._store.transaction() as tx:
            yield LegacyKeyTx(tx)

    def record_use(self, key_id: str, at: datetime) -> None:
        """Count one use, atomically (concurrent uses on several servers all count). No cache holds these counters,
        so the write does not make this process's caches reload."""
        with self._store.transaction(uncached=True) as tx:
            tx.s.execute(
                update(LegacyApiKeyRow)
                .where(LegacyApiKeyRow.id == key_id)
                .values(use_count=LegacyApiKeyRow.use_count + 1, last_used_at=at)
            )


class LegacyKeyTx:
    """The legacy key queries of one transaction."""

    def __init__(self, tx: SqlTx) -> None:
        self._tx = tx
        self._s = tx.s

    def get_agent(self, name: str) -> Agent | None:
        return self._tx.get_agent(name)

    def get_user(self, user_id: str) -> User | None:
        return self._tx.get_user(user_id)

    def get(self, key_id: str) -> LegacyApiKey | None:
        row = self._s.get(LegacyApiKeyRow, key_id)
        return None if row is None else _key(row)

    def of_agent(self, agent: str) -> list[LegacyApiKey]:
        """The agent's keys, oldest first."""
        q = select(LegacyApiKeyRow).where(LegacyApiKeyRow.agent == agent)
        return [_key(row) for row in self._s.scalars(q.order_by(LegacyApiKeyRow.created_at, LegacyApiKeyRow.id))]

    def report(self, owner: str | None, page: PageRequest) -> Page[tuple[LegacyApiKey, str]]:
        """Every key with its agent's owner, by id; only ``owner``'s agents' keys unless None."""
        q = select(LegacyApiKeyRow, AgentRow.owner).join(AgentRow, AgentRow.name == LegacyApiKeyRow.agent)
        if owner is not None:
            q = q.where(AgentRow.owner == owner)
        if page.after is not None:
            q = q.where(LegacyApiKeyRow.id > page.after)
        rows = list(self._s.execute(q.order_by(LegacyApiKeyRow.id).limit(page.limit + 1)))
        more = len(rows) > page.limit
        items = tuple((_key(row), agent_owner) for row, agent_owner in rows[: page.limit])
        return Page(items=items, next_after=items[-1][0].id if more and items else None)

    def insert(self, key: LegacyApiKey) -> None:
        self._s.add(
            LegacyApiKeyRow(
                id=key.id,
                agent=key.agent,
                prefix=key.prefix,
                digest=key.digest,
                created_at=key.created_at,
                expires_at=key.expires_at,
                created_by=key.created_by,
                revoked_at=key.revoked_at,
                last_used_at=key.last_used_at,
                use_count=key.use_count,
            )
        )
        self._s.flush()

    def revoke(self, key_id: str, at: datetime) -> None:
        row = self._s.get(LegacyApiKeyRow, key_id)
        if row is None:
            raise StoreError(f"legacy API key {key_id} vanished while it was being revoked")
        row.revoked_at = at
        self._s.flush()

    def add_event(self, event: ChangeEvent) -> None:
        self._tx.add_event(event)


def _key(row: LegacyApiKeyRow) -> LegacyApiKey:
    return LegacyApiKey(
        id=row.id,
        agent=row.agent,
        digest=row.digest,
        created_at=row.created_at,
        expires_at=row.expires_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        use_count=row.use_count,
    )
