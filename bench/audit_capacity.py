"""The audit log's own capacity, for ``bench/audit.py``: records per second through ``AuditLog`` against a raw loop.

* ``AuditLog``: producer threads call ``record(body)`` (which masks the record and queues it) as fast as they can,
  each waiting on its latest receipt when the log holds more than half of ``max_pending`` rather than being
  refused; the writer thread group-commits what is queued (``remit.store.audit.append_in``: canonical JSON,
  SHA-256 chain, one ``executemany``, the head row, a signed checkpoint every ``checkpoint_every`` records). The
  time runs from the first ``record`` to the last receipt resolved: every record is committed.
* the raw loop: the least a hash-chained log can do: for each batch of 1,000 records, the same canonical JSON
  (``json.dumps`` with sorted keys, ``seq`` inside), the same SHA-256 link, the same index columns, one plain
  ``sqlite3`` / ``psycopg`` ``executemany`` into a table of the same schema (the same indexes), one commit. No
  masking, no queue, no threads, no head row, no checkpoints.

SQLite runs with ``PRAGMA synchronous=FULL`` in WAL mode in both (Remit's engine sets it; the raw loop sets it);
PostgreSQL with its defaults (``synchronous_commit=on``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from remit.audit.chain import GENESIS
from remit.audit.log import AuditLog
from remit.ids import new_id
from remit.store import migrate
from remit.store.bounds import Timeouts
from remit.store.db import SQLITE_PRAGMAS, make_engine, sqlite_busy_timeout

Json = dict[str, Any]

RAW_BATCH = 1000
COLUMNS = ("seq", "id", "at", "kind", "action", "source", "agent", "owner", "resource", "allowed", "text", "prev_hash")
INSERT = "INSERT INTO audit_events ({}, hash) VALUES ({})"

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


@dataclass
class Rates:
    """Records per second of one variant, one figure per round."""

    name: str
    per_second: list[float] = field(default_factory=list)
    records: int = 0
    batches: int = 0

    @property
    def median(self) -> float:
        values = sorted(self.per_second)
        return values[len(values) // 2] if values else 0.0


def bodies_for(templates: Sequence[Json], start: int, count: int) -> list[Json]:
    """``count`` records cycling through ``templates``, each with its own id made as the PDP makes decision ids
    (``new_id``: time-ordered, random within a millisecond), just before the clock starts."""
    n = len(templates)
    return [{**templates[i % n], "id": new_id("dec")} for i in range(start, start + count)]


def with_random_ids(bodies: Sequence[Json]) -> list[Json]:
    """The same records with ids random throughout (16 URL-safe characters), as ids were before they began with
    the time: each batch's inserts land all over the unique index on ``id``."""
    return [{**b, "id": f"dec_{secrets.token_urlsafe(12)}"} for b in bodies]


# -- AuditLog ------------------------------------------------------------------------------------------------


def through_log(log: AuditLog, bodies: Sequence[Json], producers: int, max_pending: int) -> tuple[float, int]:
    """Record ``bodies`` from ``producers`` threads; seconds until the last is committed, and the batches used."""
    batches0 = log.stats.batches
    shares = [bodies[i::producers] for i in range(producers)]
    high_water = max_pending // 2
    start = threading.Barrier(producers + 1)
    failed: list[BaseException] = []

    def produce(k: int) -> None:
        record, depth = log.record, log.depth
        start.wait()
        try:
            for i, body in enumerate(shares[k]):
                record(body)
                if i % 256 == 255:
                    while depth() > high_water:  # back-pressure: wait for the writer rather than be refused
                        time.sleep(0.0005)
        except BaseException as exc:  # reported by the caller
            failed.append(exc)

    threads = [threading.Thread(target=produce, args=(k,), name=f"bench-producer-{k}") for k in range(producers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    log.flush(120)  # every record committed (in async mode too, where receipts resolve at once)
    elapsed = time.perf_counter() - t0
    if failed:
        raise RuntimeError(f"a producer failed: {failed[0]!r}")
    return elapsed, log.stats.batches - batches0


# -- the raw loops --------------------------------------------------------------------------------------------


@dataclass
class RawChain:
    """The raw loop's own chain position, kept across rounds."""

    seq: int = 0
    prev: str = GENESIS

    def rows(self, bodies: Sequence[Json]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        seq, prev = self.seq, self.prev
        for body in bodies:
            seq += 1
            full = {**body, "seq": seq}
            text = _dumps(full)
            digest = hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()
            principal, resource, decision = full["principal"], full["resource"], full["decision"]
            out.append(
                (
                    seq,
                    full["id"],
                    full["at"],
                    full["kind"],
                    full["action"],
                    full["source"],
                    principal["id"],
                    principal.get("owner"),
                    f"{resource['type']}::{resource['id']}",
                    decision["allowed"],
                    text,
                    prev,
                    digest,
                )
            )
            prev = digest
        self.seq, self.prev = seq, prev
        return out


class RawSqlite:
    """Plain ``sqlite3``: WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` ... ``COMMIT`` per batch.

    With ``indexes=False`` the table has the same columns and no index but its ``seq`` primary key (SQLite's rowid):
    the same bytes appended at the end of one B-tree, which is what the disk and SQLite's WAL manage at the least.
    """

    name = "raw sqlite3 loop"

    def __init__(self, path: Path, *, indexes: bool = True) -> None:
        if indexes:
            engine = make_engine(f"sqlite:///{path}")
            migrate.upgrade(engine)  # the same table and indexes as Remit's
            engine.dispose()
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (*SQLITE_PRAGMAS, sqlite_busy_timeout(Timeouts())):  # the engine's own
            self.con.execute(pragma)
        if not indexes:
            self.con.execute(f"CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, {', '.join(COLUMNS[1:])}, hash)")
        self.sql = INSERT.format(", ".join(COLUMNS), ", ".join("?" * (len(COLUMNS) + 1)))
        self.chain = RawChain()
        self.database_seconds = 0.0  #: time in executemany and commit, the rest is building the rows

    def append(self, bodies: Sequence[Json]) -> tuple[float, int]:
        t0 = time.perf_counter()
        batches = 0
        for start in range(0, len(bodies), RAW_BATCH):
            rows = self.chain.rows(bodies[start : start + RAW_BATCH])
            t1 = time.perf_counter()
            self.con.execute("BEGIN IMMEDIATE")
            self.con.executemany(self.sql, rows)
            self.con.execute("COMMIT")
            self.database_seconds += time.perf_counter() - t1
            batches += 1
        return time.perf_counter() - t0, batches

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM audit_events").fetchone()[0])

    def close(self) -> None:
        self.con.close()


class RawPostgres:
    """Plain ``psycopg``: one transaction and one ``executemany`` per batch."""

    name = "raw psycopg loop"

    def __init__(self, url: str) -> None:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        self.con = psycopg.connect(libpq_url(url))
        self.sql = INSERT.format(", ".join(COLUMNS), ", ".join(["%s"] * (len(COLUMNS) + 1)))
        self.chain = RawChain()
        self.database_seconds = 0.0  #: time in executemany and commit, the rest is building the rows

    def append(self, bodies: Sequence[Json]) -> tuple[float, int]:
        t0 = time.perf_counter()
        batches = 0
        for start in range(0, len(bodies), RAW_BATCH):
            rows = self.chain.rows(bodies[start : start + RAW_BATCH])
            t1 = time.perf_counter()
            with self.con.cursor() as cur:
                cur.executemany(self.sql, rows)
            self.con.commit()
            self.database_seconds += time.perf_counter() - t1
            batches += 1
        return time.perf_counter() - t0, batches

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM audit_events").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()


# -- PostgreSQL scratch databases -----------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` as psycopg's own connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_databases(url: str, names: Sequence[str]) -> Any:
    """Create the databases ``names`` (dropped first if a previous run left them) on the server of ``url``; drop
    them on the way out. Yields their SQLAlchemy URLs."""
    admin = psycopg.connect(libpq_url(url), autocommit=True)
    try:
        for name in names:
            _check_name(name)
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        yield [with_database(url, name) for name in names]
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _check_name(name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")


#: one step of a capacity round: append these bodies, return (seconds, batches)
Step = Callable[[Sequence[Json]], tuple[float, int]]
