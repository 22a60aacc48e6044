"""What the token service's stores share: ``reading()`` and ``changing()`` open one of the registry store's
transactions and hand out the store's own queries over it (a ``ScopedTx``), which read the registry's agents and
users and record change events in the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from remit.audit.events import ChangeEvent
from remit.errors import StoreError
from remit.registry.models import Agent, User
from remit.store.policies import CONTROL_ID
from remit.store.repository import SqlStore, SqlTx
from remit.store.tables import Base, ControlRow

T = TypeVar("T", bound="ScopedTx")
R = TypeVar("R", bound=Base)
D = TypeVar("D")


class ScopedTx:
    """The queries of one transaction that every scoped store has."""

    def __init__(self, tx: SqlTx) -> None:
        self._tx = tx
        self._s = tx.s

    def lock(self) -> None:
        """Take the change lock (the ``control`` row) for the rest of the transaction."""
        self._tx.control()  # the migration seeds the row; this puts it back in a truncated test database
        self._s.execute(select(ControlRow.id).where(ControlRow.id == CONTROL_ID).with_for_update())

    def get_agent(self, name: str) -> Agent | None:
        return self._tx.get_agent(name)

    def get_user(self, user_id: str) -> User | None:
        return self._tx.get_user(user_id)

    def add_event(self, event: ChangeEvent) -> None:
        self._tx.add_event(event)

    def _existing(self, row_type: type[R], key: str, what: str, doing: str) -> R:
        """The row ``key`` that the caller is changing; ``StoreError`` if it vanished meanwhile."""
        row = self._s.get(row_type, key)
        if row is None:
            raise StoreError(f"{what} {key} vanished while it was being {doing}")
        return row


class ScopedStore(Generic[T]):
    """A store over the registry's ``SqlStore`` whose transactions hand out ``scope`` queries."""

    #: the queries of one transaction
    scope: type[T]
    #: whether ``changing()`` takes the change lock from its first statement
    locks: bool = False

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @contextmanager
    def reading(self) -> Iterator[T]:
        with self._store.transaction(readonly=True) as tx:
            yield self.scope(tx)

    @contextmanager
    def changing(self) -> Iterator[T]:
        """A write transaction; one holding the change lock from its first statement when the store ``locks``."""
        with self._store.transaction() as tx:
            scoped = self.scope(tx)
            if self.locks:
                scoped.lock()
            yield scoped


def columns(value: Any) -> dict[str, Any]:
    """A dataclass's fields by name: the columns of a row that stores it as it is."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def from_row(kind: type[D], row: Base) -> D:
    """The dataclass ``kind`` read from a row holding each of its fields in a column of the same name."""
    names = [f.name for f in dataclasses.fields(kind)]  # type: ignore[arg-type]
    return kind(**{name: getattr(row, name) for name in names})
