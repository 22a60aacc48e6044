"""Shared fixtures: a frozen clock, a fresh store on SQLite and PostgreSQL, a wired ``Remit``, principals.

``database_url`` runs every test that uses it twice: on a SQLite file under ``tmp_path`` and on PostgreSQL.
PostgreSQL comes from ``REMIT_TEST_DATABASE_URL`` (``postgresql+psycopg://user@host:5432/db``). Without it
the PostgreSQL half is skipped; with it, an unreachable server is an error, never a skip. The session
creates one throw-away database ``remit_test_<hex>`` on that server, migrates it once, truncates every table
before each test (putting back the rows the migrations seed), and drops the database at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.settings import Settings, load_settings
from remit.store import migrate
from remit.store.bounds import unbounded
from remit.store.db import make_engine
from remit.store.tables import Base

POSTGRES_ENV = "REMIT_TEST_DATABASE_URL"

# Servers started by tests commit their audit batches on their own event loop: a writer process per live server
# (there are hundreds) would add ~0.4 s each. tests/audit/test_process_writer.py runs the writer process (the
# production default) on purpose, through the API too, and tests/audit/test_crash.py serves with the defaults.
os.environ.setdefault("REMIT_AUDIT__WRITER", "inline")

#: builds the principal of an owner acting for the given user id
OwnerFactory = Callable[[str], AdminPrincipal]


@pytest.fixture
def clock() -> FrozenClock:
    """A clock at 2026-01-01T00:00:00Z that moves only when a test advances it."""
    return FrozenClock()


# -- databases ---------------------------------------------------------------------------------------------


class _PostgresDatabase:
    """The session's throw-away PostgreSQL database, and an engine to reset it between tests.

    Migrations may seed rows (such as the one ``control`` row); those are read once after migrating and put
    back after every TRUNCATE, so that each test starts from what a freshly migrated database holds, exactly
    as on SQLite.
    """

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.seed: dict[Table, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                rows = [dict(row._mapping) for row in conn.execute(select(table))]
                if rows:
                    self.seed[table] = rows

    def reset(self) -> None:
        names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        # maintenance: TRUNCATE waits for the locks of connections a previous test is still closing
        with self.engine.begin() as conn, unbounded(conn):
            conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
            for table, rows in self.seed.items():  # in dependency order
                conn.execute(insert(table), rows)


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[_PostgresDatabase]:
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"remit_test_{secrets.token_hex(6)}"
    # No try/except around the connection: a configured but unreachable server must fail the run, not skip.
    server = create_engine(base_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            yield _PostgresDatabase(url, engine)
        finally:
            engine.dispose()
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        server.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL to a store of our own: a new SQLite file, or the session's PostgreSQL database, reset."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/remit.db"
    database: _PostgresDatabase = request.getfixturevalue("_postgres_database")
    database.reset()
    return database.url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings with ``home=tmp_path``: only ``<tmp_path>/remit.toml`` is read, never a stray ``./.remit`` one."""
    return load_settings(home=tmp_path, database_url=database_url)


@pytest.fixture
def remit(settings: Settings, clock: FrozenClock) -> Iterator[Remit]:
    """Store and services wired as in production, schema migrated, on the frozen ``clock``."""
    app = Remit.from_settings(settings, clock=clock)
    try:
        yield app
    finally:
        app.close()


# -- principals --------------------------------------------------------------------------------------------


@pytest.fixture
def admin() -> AdminPrincipal:
    return AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)


@pytest.fixture
def auditor() -> AdminPrincipal:
    return AdminPrincipal(actor="test:auditor", role=AdminRole.AUDITOR)


def owner_principal(user_id: str) -> AdminPrincipal:
    """The principal of an owner acting for ``user_id`` (the user must exist for most operations)."""
    return AdminPrincipal(actor=f"test:owner:{user_id}", role=AdminRole.OWNER, user_id=user_id)


@pytest.fixture
def make_owner() -> OwnerFactory:
    """``make_owner("alice")`` -> an owner principal acting for user ``alice``."""
    return owner_principal
