"""psycopg connections whose every wait for the server is bounded (``remit.store.bounds`` says why and how)."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen

# NOTE: psycopg 3.3's own wait interval, and the exception its wait functions raise when their timeout runs out: both
# private. BoundedConnection.wait passes the one on and turns the other into a public OperationalError;
# tests/store/test_bounds.py fails if either changes meaning.
from psycopg.connection import _WAIT_INTERVAL
from psycopg.errors import _WaitTimeout

from remit.store.bounds import StoreGate, Timeouts

RV = TypeVar("RV")


class StoreUnreachable(psycopg.OperationalError):
    """A connection was not opened: the database is not answering and another caller is trying it already."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server are bounded: every wait that names no timeout of its own
    (those that do, such as ``notifies(timeout=...)``, keep theirs) lasts at most ``bound`` seconds. Past that the
    connection is closed and ``OperationalError`` raised; the ``gate`` hears of it."""

    bound: float | None = None  #: None: unbounded (``unbounded``)
    gate: StoreGate | None = None

    def wait(self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> RV:
        bound = self.bound
        if timeout is not None or bound is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, bound)
        except _WaitTimeout:
            pass
        # The request is on the wire and its answer never came: the protocol state is unknown, so the connection
        # cannot be used again. Closed without the clean-close flag, psycopg reports it ``broken``, which SQLAlchemy
        # treats as a disconnect.
        self.pgconn.finish()
        if self.gate is not None:
            self.gate.failed()
        raise psycopg.OperationalError(f"the database did not answer within {bound:g} s; the connection was closed")


def connect(timeouts: Timeouts, gate: StoreGate, *args: Any, **params: Any) -> BoundedConnection:
    """Open a bounded connection (SQLAlchemy's ``do_connect``, the change listener): through the gate, within
    ``timeouts.connect``, with ``statement_timeout`` set on the server."""
    options = f"-c statement_timeout={round(timeouts.statement * 1000)}"
    params["options"] = f"{params['options']} {options}" if params.get("options") else options
    params["connect_timeout"] = timeouts.connect
    if not gate.enter():
        raise StoreUnreachable("the database is not answering; refused without waiting, retry later")
    try:
        conn = BoundedConnection.connect(*args, **params)
    except BaseException:
        gate.failed()
        raise
    gate.opened()
    conn.bound = timeouts.stall
    conn.gate = gate
    return conn
