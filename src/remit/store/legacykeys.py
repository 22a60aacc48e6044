"""Legacy static API keys: ``legacy_api_keys`` rows, in the registry store's transactions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from remit.paging import Page, PageRequest
from remit.store.scoped import ScopedStore, ScopedTx, columns, from_row
from remit.store.tables import AgentRow, LegacyApiKeyRow
from remit.tokens.legacykeys import LegacyApiKey


class LegacyKeyTx(ScopedTx):
    """The legacy key queries of one transaction."""

    def get(self, key_id: str) -> LegacyApiKey | None:
        row = self._s.get(LegacyApiKeyRow, key_id)
        return None if row is None else from_row(LegacyApiKey, row)

    def of_agent(self, agent: str) -> list[LegacyApiKey]:
        """The agent's keys, oldest first."""
        q = select(LegacyApiKeyRow).where(LegacyApiKeyRow.agent == agent)
        return [
            from_row(LegacyApiKey, row)
            for row in self._s.scalars(q.order_by(LegacyApiKeyRow.created_at, LegacyApiKeyRow.id))
        ]

    def report(self, owner: str | None, page: PageRequest) -> Page[tuple[LegacyApiKey, str]]:
        """Every key with its agent's owner, by id; only ``owner``'s agents' keys unless None."""
        q = select(LegacyApiKeyRow, AgentRow.owner).join(AgentRow, AgentRow.name == LegacyApiKeyRow.agent)
        if owner is not None:
            q = q.where(AgentRow.owner == owner)
        if page.after is not None:
            q = q.where(LegacyApiKeyRow.id > page.after)
        rows = list(self._s.execute(q.order_by(LegacyApiKeyRow.id).limit(page.limit + 1)))
        more = len(rows) > page.limit
        items = tuple((from_row(LegacyApiKey, row), agent_owner) for row, agent_owner in rows[: page.limit])
        return Page(items=items, next_after=items[-1][0].id if more and items else None)

    def insert(self, key: LegacyApiKey) -> None:
        self._s.add(LegacyApiKeyRow(**columns(key), prefix=key.prefix))
        self._s.flush()

    def revoke(self, key_id: str, at: datetime) -> None:
        row = self._existing(LegacyApiKeyRow, key_id, "legacy API key", "revoked")
        row.revoked_at = at
        self._s.flush()


class LegacyKeyStore(ScopedStore[LegacyKeyTx]):
    """``legacy_api_keys`` over the registry's ``SqlStore``."""

    scope = LegacyKeyTx

    def record_use(self, key_id: str, at: datetime) -> None:
        """Count one use, atomically (concurrent uses on several servers all count). No cache holds these counters,
        so the write does not make this process's caches reload."""
        with self._store.transaction(uncached=True) as tx:
            tx.s.execute(
                update(LegacyApiKeyRow)
                .where(LegacyApiKeyRow.id == key_id)
                .values(use_count=LegacyApiKeyRow.use_count + 1, last_used_at=at)
            )
