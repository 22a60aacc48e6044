"""Time bounds on every wait for the database: one that stops answering costs a request a bounded wait and a 503,
never a hang.

A PostgreSQL server that is stalled (``SIGSTOP``, a hung host or disk, a network path that drops nothing) accepts
connections and acknowledges every byte at the TCP level, and never answers. Neither PostgreSQL's own
``statement_timeout`` (the server is not running to enforce it) nor TCP keepalives or ``tcp_user_timeout`` (the
peer's kernel acknowledges the bytes) notice that. So the bounds are kept on the client:

* **connect** (``Timeouts.connect``): psycopg's ``connect_timeout``, in whole seconds and at least 2 (libpq's rule,
  which psycopg follows).
* **statement** (``Timeouts.statement``): PostgreSQL's ``statement_timeout`` cancels a statement that runs too long
  on a server that is running (the connection stays usable). And every wait of a connection for its server (a
  statement, a fetch, a commit, a ping) is bounded by it plus ``GRACE_SECONDS`` on the client
  (``remit.store.pgconn.BoundedConnection``): past that the server is taken as not answering and the connection is
  closed, since it is mid-protocol and unusable. SQLAlchemy sees a closed connection as a disconnect: it discards
  it, and every other connection pooled before it, so nothing that hung is used again.
* **pool** (``Timeouts.pool``): SQLAlchemy's ``pool_timeout``, the wait for a free connection of the pool.
* **fail fast** (``StoreGate``): once the server is known not to answer (a connection could not be opened, or a
  wait ran out), opening a connection fails at once, but for one caller at a time, every ``RETRY_SECONDS``, that
  tries; the first that gets through opens the gate again. A stalled database then holds up one thread, not every
  request's: without it each request would keep a worker thread for a whole bound, and under load the requests
  queued for a thread would wait longer and longer. A request waits at most about one bound.

SQLite has no server to stall: its bound is ``busy_timeout``, how long a writer waits for another process's write
lock (``remit.store.db``).

Maintenance that may rightly run long and wait for locks the servers hold (migrations, audit retention) lifts the
statement bounds for its transaction with ``unbounded``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

if TYPE_CHECKING:
    from remit.settings import StoreSettings

log = logging.getLogger(__name__)

#: how much longer than ``statement_timeout`` the client waits before it takes the server as not answering: time for
#: a running server's own cancellation to come back, so that a slow statement is not mistaken for a stalled server
GRACE_SECONDS = 0.5
#: while the database is down, how often one caller tries to open a connection (the others are refused at once)
RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The store's bounds, in seconds (``remit.settings.StoreSettings``)."""

    connect: int = 2
    statement: float = 2.0
    pool: float = 2.0

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Timeouts:
        return cls(
            connect=settings.connect_timeout_seconds,
            statement=settings.statement_timeout_seconds,
            pool=settings.pool_timeout_seconds,
        )

    @property
    def stall(self) -> float:
        """The client's own bound on one wait for the server."""
        return self.statement + GRACE_SECONDS


class StoreGate:
    """Whether to try opening a connection now (see the module docstring). Shared by every thread of one engine.

    Up, every caller opens its connections. Down (an open failed, or a wait for the server ran out), callers are
    refused at once, except one at a time, at most every ``RETRY_SECONDS``, that tries; the first that gets through
    puts it up again. The request that found the server stalled is refused at once too, rather than wait a second
    bound to connect."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._down = False
        self._probing = False
        self._retry_at = 0.0
        #: connections refused at once since the process started (the database was known down)
        self.refused = 0

    @property
    def down(self) -> bool:
        return self._down

    def enter(self) -> bool:
        """Before opening a connection: False to refuse it at once (the database is known down and it is not this
        caller's turn to try); True to go ahead, reporting with ``opened`` or ``failed``."""
        with self._lock:
            if not self._down:
                return True
            if self._probing or self._monotonic() < self._retry_at:
                self.refused += 1
                return False
            self._probing = True
            return True

    def opened(self) -> None:
        with self._lock:
            if self._down:
                log.info("the database answers again")
            self._down = self._probing = False

    def failed(self) -> None:
        with self._lock:
            if not self._down:
                log.error("the database is not answering; connections are refused at once until one gets through")
            self._down, self._probing = True, False
            self._retry_at = self._monotonic() + RETRY_SECONDS


@contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """Lift the statement bounds on ``conn`` for the rest of its current transaction (PostgreSQL: ``SET LOCAL
    statement_timeout = 0``) and, on the client, until the block ends: for maintenance that may rightly run long or
    wait for locks the servers hold. A stalled server then holds it up, as it would any tool without a bound."""
    dbapi: Any = conn.connection.dbapi_connection  # a BoundedConnection on PostgreSQL (remit.store.pgconn)
    if getattr(dbapi, "bound", None) is None:  # SQLite, or lifted already
        yield
        return
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    bound, dbapi.bound = dbapi.bound, None
    try:
        yield
    finally:
        dbapi.bound = bound
