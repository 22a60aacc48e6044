"""Revoked access tokens: ``revoked_tokens`` rows, in the registry store's transactions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select

from remit.errors import Conflict
from remit.store import notify
from remit.store.repository import SqlStore
from remit.store.tables import RevokedTokenRow

#: the ``jti`` column's width
MAX_STORED_JTI = 256


class RevocationStore:
    """``revoked_tokens`` over the registry's ``SqlStore``: shared by every server of one store."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._observers: list[Callable[[str], None]] = []

    def observe(self, observer: Callable[[str], None]) -> None:
        """Call ``observer(jti)`` after each revocation this process commits (an in-memory ``RevocationSet``)."""
        self._observers.append(observer)

    def revoke(self, jti: str, client_id: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``jti`` as revoked until ``expires_at``; False if it already was. Prunes expired rows first."""
        try:
            with self._store.transaction(uncached=True) as tx:
                s = tx.s
                s.execute(delete(RevokedTokenRow).where(RevokedTokenRow.expires_at <= now))
                if s.get(RevokedTokenRow, jti) is not None:
                    return False
                s.add(RevokedTokenRow(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now))
                s.flush()
                if self._store.postgres:  # every other server's RevocationSet re-reads the list at once
                    notify.send_revocation(s)
        except Conflict:  # another request revoked it first
            return False
        for observer in self._observers:
            observer(jti)
        return True

    def is_revoked(self, jti: str) -> bool:
        """Read from the store on every call, with no cache: a revocation applies on the very next request, on
        every server of the store. The ``is_revoked`` hook of a verifier (``VerifiedCache``, introspection).
        A ``jti`` that could never be stored (too long, a NUL) was never revoked."""
        if len(jti) > MAX_STORED_JTI or "\x00" in jti:
            return False
        with self._store.transaction(readonly=True) as tx:
            return tx.s.get(RevokedTokenRow, jti) is not None

    def marker(self) -> tuple[int, datetime | None]:
        """What changes whenever ``revoked_tokens`` does (a revocation, a prune): its row count and latest
        ``revoked_at``. One indexed read: cheap enough to poll."""
        with self._store.transaction(readonly=True) as tx:
            count, latest = tx.s.execute(select(func.count(), func.max(RevokedTokenRow.revoked_at))).one()
        return int(count), latest

    def active(self, now: datetime) -> frozenset[str]:
        """Every ``jti`` revoked and not yet expired at ``now``."""
        with self._store.transaction(readonly=True) as tx:
            rows = tx.s.execute(select(RevokedTokenRow.jti).where(RevokedTokenRow.expires_at > now)).scalars()
            return frozenset(rows)
