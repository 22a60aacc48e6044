"""What the policy service needs from a store, beyond the registry. Adapter: ``remit.store.repository.SqlTx``.

``bump`` and every ``add_event`` MUST increase ``control().revision`` inside the same transaction, so that a
server polling the revision sees every committed change, in commit order, on every database.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from remit.paging import Page, PageRequest
from remit.policy.compile import RegistrySnapshot
from remit.policy.model import GuardChange, Mode
from remit.policy.versions import Control, EntitySet, PolicyVersion
from remit.registry.ports import RegistryTx


class PolicyTx(RegistryTx, Protocol):
    def snapshot(self) -> RegistrySnapshot: ...
    def control(self) -> Control: ...
    def set_control(
        self, *, active_policy_version: int | None, active_entities_version: int | None, mode: Mode, at: datetime
    ) -> Control: ...
    def revision(self) -> int:
        """Just the counter: one indexed read, cheap enough to poll."""
        ...

    def insert_policy_version(self, version: PolicyVersion) -> None: ...
    def get_policy_version(self, version: int) -> PolicyVersion | None: ...
    def latest_policy_version(self) -> int: ...
    def list_policy_versions(self, page: PageRequest) -> Page[PolicyVersion]: ...
    def insert_entity_set(self, entity_set: EntitySet) -> None: ...
    def get_entity_set(self, version: int) -> EntitySet | None: ...
    def latest_entity_set(self) -> int: ...


class PolicyStore(Protocol):
    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[PolicyTx]: ...
    def local_writes(self) -> int: ...


class ChangeFeed(Protocol):
    """Status changes other servers commit, pushed by the store (PostgreSQL ``LISTEN``). Adapter:
    ``remit.store.notify.PgChangeFeed``."""

    def wait(self, timeout: float) -> list[GuardChange] | None:
        """The changes heard within ``timeout`` seconds, returning at the first ([] if none came); None at once when
        not listening (the connection is down and not back yet), so that the caller polls instead."""
        ...

    def close(self) -> None: ...
