"""Schema migrations with Alembic, run programmatically (``remit db upgrade`` and on server start).

On PostgreSQL the upgrade holds an advisory lock, so several servers starting at once migrate one at a time. It runs
without the store's statement bound (``remit.store.bounds.unbounded``): a migration may rewrite a large table, and a
server waits for the advisory lock as long as another one migrates.

Every local command checks that the database is at the scripts' head (``current`` and ``head``); both read what
Alembic itself reads (its ``alembic_version`` table; the scripts' ``revision`` and ``down_revision``) without
importing Alembic, whose import and script loading take longer than the rest of a local read (~0.1-0.2 s).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

from remit.store.bounds import unbounded

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  #: Alembic's default: where it records the revision a database is at
_LOCK_KEY = 0x52454D4954  # "REMIT"


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _config_for_scripts() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``."""
    from alembic import command

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
    """The revision the database is at, or None for an empty database (as Alembic's ``get_current_revision``)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()  # noqa: S608 - a constant
    if len(found) > 1:
        raise RuntimeError(f"the database records {len(found)} schema revisions at once: {', '.join(found)}")
    return str(found[0]) if found else None


@functools.cache
def head() -> str:
    """The newest revision of the migration scripts: the one no other script revises."""
    revises: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = _assignments(script)
        if "revision" in values:
            revises[str(values["revision"])] = values.get("down_revision")
    heads = set(revises) - set(revises.values())
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads, not one: {', '.join(sorted(heads))}")
    return heads.pop()


def _assignments(script: Path) -> dict[str, str | None]:
    """The module-level ``revision`` and ``down_revision`` of a migration script, without running it."""
    found: dict[str, str | None] = {}
    for node in ast.parse(script.read_text(encoding="utf-8"), str(script)).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    value = ast.literal_eval(node.value)
                    found[target.id] = None if value is None else str(value)
    return found
