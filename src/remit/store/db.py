"""Engine construction and dialect quirks: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from remit.errors import ConfigurationError

SUPPORTED = ("sqlite", "postgresql")
#: execution option marking a read-only transaction (``SqlStore.transaction(readonly=True)``)
READONLY = "remit_readonly"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; ``ConfigurationError`` for a URL we cannot use."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError("database_url is not a valid SQLAlchemy URL") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ConfigurationError(f"database_url: unsupported database {backend!r}; use sqlite or postgresql")
    if backend == "sqlite":
        return _sqlite(url, parsed.database, echo)
    if parsed.get_driver_name() != "psycopg":
        raise ConfigurationError("database_url: use the psycopg driver, postgresql+psycopg://...")
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


#: every SQLite connection's settings: WAL with a full sync at each commit (a committed audit batch survives a power
#: cut), foreign keys enforced, and waits of up to 30 s for another process's write lock
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def _sqlite(url: str, database: str | None, echo: bool) -> Engine:
    if database and database != ":memory:":
        # The file holds token digests and the whole registry: keep it to its owner.
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        Path(database).touch(mode=0o600, exist_ok=True)
        os.chmod(database, 0o600)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 30},
        # A small pool: opening a connection (and its PRAGMAs) costs more than most of our queries.
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so that BEGIN IMMEDIATE below takes effect.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
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
