"""Schema migrations with Alembic, run programmatically (``remit db upgrade`` and on server start).

On PostgreSQL the upgrade holds an advisory lock, so several servers starting at once migrate one at a time. It runs
without the store's statement bound (``remit.store.bounds.unbounded``): a migration may rewrite a large table, and a
server waits for the advisory lock as long as another one migrates.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from remit.store.bounds import unbounded

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x52454D4954  # "REMIT"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    cfg = _config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            with unbounded(conn):  # for this transaction: the wait for the lock, the migration, its commit
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
                try:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    conn.commit()
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                    conn.commit()
    else:
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    head = ScriptDirectory.from_config(_config_for_scripts()).get_current_head()
    assert head is not None
    return head


def _config_for_scripts() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg
