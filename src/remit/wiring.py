"""The part of the wiring every process needs: the database engine, the store and the registry service.

``Remit.from_settings`` (``container.py``) builds everything else on top of it; the CLI's registry commands use it
alone, so that they load neither the token service nor the policy engine nor the audit log. Both build these three
here, one way: what a setting changes about them changes it for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from remit.audit.mask import Masker
from remit.clock import Clock
from remit.registry.service import RegistryService
from remit.settings import Settings
from remit.store import migrate
from remit.store.bounds import Timeouts
from remit.store.db import make_engine
from remit.store.repository import SqlStore


@dataclass(frozen=True, slots=True)
class Foundation:
    clock: Clock
    engine: Engine
    store: SqlStore
    registry: RegistryService
    #: the bounds of every wait for the database (``store`` settings), also given to the audit writer process
    timeouts: Timeouts
    #: one masker for every record: decisions and token records (``AuditLog``), admin changes (the store)
    masker: Masker

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock, *, migrate_schema: bool) -> Foundation:
        timeouts = Timeouts.from_settings(settings.store)
        engine = make_engine(settings.resolved_database_url, timeouts=timeouts)
        if migrate_schema:
            migrate.upgrade(engine)
        masker = Masker.from_paths(settings.audit.mask_paths)
        store = SqlStore(engine, masker)
        registry = RegistryService.from_settings(settings, store, clock)
        return cls(clock, engine, store, registry, timeouts, masker)
