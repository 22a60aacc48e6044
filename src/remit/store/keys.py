"""The signing keys' storage: ``signing_keys`` rows in and out, inside the registry store's transactions.

Every change to the keys runs in ``KeyStore.changing()``, which first locks the ``control`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers): two servers starting together, or
rotating at once, take turns, and the second sees what the first committed. The partial unique index on active
rows is the backstop. A change is recorded with ``add_event``, so it reaches the change feed and the audit chain in
the same transaction, and moves the change counter that every server polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from remit.errors import StoreError
from remit.store.scoped import ScopedStore, ScopedTx
from remit.store.tables import SigningKeyRow
from remit.tokens.keys import KeyStatus, VerificationKey


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: its public half and life cycle, and its sealed private half (None once retired)."""

    key: VerificationKey
    private_enc: str | None
    kek_id: str | None


class KeyTx(ScopedTx):
    """The key queries of one transaction."""

    def revision(self) -> int:
        """The store's change counter, as this transaction sees it."""
        return self._tx.revision()

    def active(self) -> StoredKey | None:
        row = self._s.scalars(select(SigningKeyRow).where(SigningKeyRow.status == KeyStatus.ACTIVE.value)).first()
        return None if row is None else _stored(row)

    def verifying(self, now: datetime) -> list[StoredKey]:
        """The active key and the retired ones still verifying at ``now``."""
        q = select(SigningKeyRow).where(
            or_(SigningKeyRow.status == KeyStatus.ACTIVE.value, SigningKeyRow.verify_until > now)
        )
        return [_stored(row) for row in self._s.scalars(q.order_by(SigningKeyRow.created_at.desc()))]

    def all(self) -> list[StoredKey]:
        """Every key ever made, newest first (of keys made at the same instant, the active one, then the one retired
        last)."""
        keys = [_stored(row) for row in self._s.scalars(select(SigningKeyRow))]
        keys.sort(key=_newest_first, reverse=True)
        return keys

    def insert(self, key: VerificationKey, *, private_enc: str, kek_id: str) -> None:
        self._s.add(SigningKeyRow(**_columns(key), private_enc=private_enc, kek_id=kek_id))
        self._s.flush()

    def retire(self, key: VerificationKey) -> None:
        """Store ``key``'s retirement, and erase its private half."""
        row = self._existing(SigningKeyRow, key.kid, "signing key", "retired")
        for name, value in _columns(key).items():
            setattr(row, name, value)
        row.private_enc = None
        self._s.flush()


class KeyStore(ScopedStore[KeyTx]):
    """``signing_keys`` over the registry's ``SqlStore`` (its error mapping, its local write counter)."""

    scope = KeyTx
    locks = True

    def local_writes(self) -> int:
        return self._store.local_writes()


def _newest_first(stored: StoredKey) -> tuple[datetime, bool, datetime]:
    key = stored.key
    return (key.created_at, key.retired_at is None, key.retired_at or key.created_at)


def _columns(key: VerificationKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": key.status.value,
        "public_jwk": key.jwk,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
        "verify_until": key.verify_until,
    }


def _stored(row: SigningKeyRow) -> StoredKey:
    try:
        key = VerificationKey.from_jwk(
            row.public_jwk,
            status=KeyStatus(row.status),
            created_at=row.created_at,
            activated_at=row.activated_at,
            retired_at=row.retired_at,
            verify_until=row.verify_until,
        )
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the stored signing key {row.kid!r} is damaged ({exc})") from exc
    if key.kid != row.kid or key.alg != row.alg:
        raise StoreError(f"the stored signing key {row.kid!r} is damaged (its kid or alg does not fit its key)")
    return StoredKey(key=key, private_enc=row.private_enc, kek_id=row.kek_id)
