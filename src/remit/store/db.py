"""Engine construction and dialect quirks: SQLite in WAL mode by default, PostgreSQL by URL; on both, the time bounds
of ``remit.store.bounds`` on every wait for the database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from remit.errors import ConfigurationError
from remit.store.bounds import StoreGate, Timeouts

SUPPORTED = ("sqlite", "postgresql")
#: execution option marking a read-only transaction (``SqlStore.transaction(readonly=True)``)
READONLY = "remit_readonly"


#: the bounds and the gate of each PostgreSQL engine ``make_engine`` built (``bounds_of``)
_BOUNDS: WeakKeyDictionary[Engine, tuple[Timeouts, StoreGate]] = WeakKeyDictionary()


def make_engine(url: str, *, echo: bool = False, timeouts: Timeouts | None = None) -> Engine:
    """An engine for ``url`` whose every wait for the database is bounded by ``timeouts`` (the defaults if None);
    ``ConfigurationError`` for a URL we cannot use."""
    timeouts = timeouts or Timeouts()
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError("database_url is not a valid SQLAlchemy URL") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ConfigurationError(f"database_url: unsupported database {backend!r}; use sqlite or postgresql")
    if backend == "sqlite":
        return _sqlite(url, parsed.database, echo, timeouts)
    if parsed.get_driver_name() != "psycopg":
        raise ConfigurationError("database_url: use the psycopg driver, postgresql+psycopg://...")
    return _postgres(url, echo, timeouts)


def bounds_of(engine: Engine) -> tuple[Timeouts, StoreGate] | None:
    """The bounds and the gate of a PostgreSQL engine from ``make_engine`` (None for any other)."""
    return _BOUNDS.get(engine)


def _postgres(url: str, echo: bool, timeouts: Timeouts) -> Engine:
    from remit.store.tables import for_postgresql  # the tables' PostgreSQL-only options (the dialect is loaded now)

    for_postgresql()
    engine = create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=timeouts.pool
    )
    gate = StoreGate()
    _BOUNDS[engine] = (timeouts, gate)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        from remit.store.pgconn import connect  # psycopg, imported when a PostgreSQL connection is first opened

        # every connection of the pool is a BoundedConnection, opened through the gate
        return connect(timeouts, gate, *cargs, **cparams)

    return engine


#: every SQLite connection's settings: WAL with a full sync at each commit (a committed audit batch survives a power
#: cut), foreign keys enforced; and ``PRAGMA busy_timeout``, how long a writer waits for another process's write lock
#: (the statement bound, ``sqlite_busy_timeout``)
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)


def sqlite_busy_timeout(timeouts: Timeouts) -> str:
    """The ``PRAGMA`` that bounds a SQLite connection's wait for a lock by ``timeouts.statement``."""
    return f"PRAGMA busy_timeout={round(timeouts.statement * 1000)}"


def _sqlite(url: str, database: str | None, echo: bool, timeouts: Timeouts) -> Engine:
    if database and database != ":memory:":
        # The file holds token digests and the whole registry: keep it to its owner.
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        Path(database).touch(mode=0o600, exist_ok=True)
        os.chmod(database, 0o600)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": timeouts.statement},
        # A small pool: opening a connection (and its PRAGMAs) costs more than most of our queries.
        pool_size=8,
        max_overflow=16,
        pool_timeout=timeouts.pool,
    )
    pragmas = (*SQLITE_PRAGMAS, sqlite_busy_timeout(timeouts))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so that BEGIN IMMEDIATE below takes effect.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writing transaction takes the write lock at the start, so a read-then-write never fails half-way with
        # "database is locked" when another process (the CLI beside a server) writes too. A read-only one starts
        # deferred: in WAL mode it reads a consistent snapshot beside the writer.
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
