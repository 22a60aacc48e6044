"""Status changes pushed to every server of a PostgreSQL store: ``NOTIFY`` in the changing transaction, ``LISTEN`` on
one connection per server.

The payload names what changed (``{"kind": "agent", "id": "helpdesk"}``), never the new status: a listener reads the
status, the owner and the change counter from the store in one statement. Any role that can connect may send a
``NOTIFY``, so a forged one can cost a read, never resume an agent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from remit.policy.model import GuardChange
from remit.store.bounds import StoreGate, Timeouts
from remit.store.db import bounds_of
from remit.store.policies import CONTROL_ID
from remit.store.tables import AgentRow, ControlRow, UserRow

if TYPE_CHECKING:  # psycopg loads with the listening connection: never on SQLite
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "remit_guard"
KINDS = ("agent", "user")
#: a token was revoked: listeners re-read ``revoked_tokens`` (the payload names no token)
REVOCATION = "revocation"
MAX_ID = 256  #: longer ids are not ours: such a payload is ignored


def read_change(session: Session, kind: str, id_: str) -> GuardChange | None:
    """The agent's or user's status (and owner) with the change counter, in one statement (one snapshot); None if it
    does not exist."""
    revision = select(ControlRow.revision).where(ControlRow.id == CONTROL_ID).scalar_subquery()
    if kind == "agent":
        agent = session.execute(
            select(AgentRow.status, AgentRow.owner, revision).where(AgentRow.name == id_)
        ).one_or_none()
        return None if agent is None else GuardChange("agent", id_, agent[0], agent[1], int(agent[2] or 0))
    if kind == "user":
        user = session.execute(select(UserRow.status, revision).where(UserRow.id == id_)).one_or_none()
        return None if user is None else GuardChange("user", id_, user[0], "", int(user[1] or 0))
    raise ValueError(f"unknown guard change kind {kind!r}")


def send(session: Session, kind: str, id_: str) -> None:
    """Queue the notification in this transaction: PostgreSQL delivers it on commit, and drops it on rollback."""
    payload = json.dumps({"kind": kind, "id": id_}, separators=(",", ":"))
    session.execute(select(func.pg_notify(CHANNEL, payload)))


def send_revocation(session: Session) -> None:
    """Queue "a token was revoked" in this transaction, delivered on commit."""
    send(session, REVOCATION, "*")


def parse(payload: str) -> tuple[str, str] | None:
    """(kind, id) from a payload, or None for anything this module does not send."""
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    kind, id_ = body.get("kind"), body.get("id")
    if kind not in (*KINDS, REVOCATION) or not isinstance(id_, str) or not 0 < len(id_) <= MAX_ID:
        return None
    return str(kind), id_


class PgChangeFeed:
    """One listening connection, opened on first use and again ``retry_seconds`` after it drops or fails to open,
    with the engine's bounds and through its gate (``remit.store.bounds``): a database that stops answering holds
    the listener up no longer than it holds a request. While it is stalled the listener hears nothing, and the
    refresher's poll fails, bounded, until it answers again.

    Used by one thread (the policy refresher's); ``close`` after that thread has stopped.
    """

    def __init__(self, engine: Engine, *, retry_seconds: float = 1.0) -> None:
        self._engine = engine
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._bounds: tuple[Timeouts, StoreGate] = bounds_of(engine) or (Timeouts(), StoreGate())
        self.retry_seconds = retry_seconds
        self._conn: psycopg.Connection[Any] | None = None
        self._next_try = 0.0
        self._listening = threading.Condition()
        #: called (on the listening thread) when another server revoked a token: a ``RevocationSet.invalidate``
        self.on_revocation: Callable[[], None] | None = None
        #: the server process id of the listening connection while it listens
        self.backend_pid: int | None = None

    def wait(self, timeout: float) -> list[GuardChange] | None:
        import psycopg

        conn = self._connection()
        if conn is None:
            return None
        heard: dict[tuple[str, str], None] = {}
        try:
            for note in conn.notifies(timeout=timeout, stop_after=1):
                self._take(note.payload, heard)
            for note in conn.notifies(timeout=0.0):  # whatever else already arrived
                self._take(note.payload, heard)
        except psycopg.Error as exc:
            log.warning("the policy change listener lost its connection (%s); polling until it is back", exc)
            self._drop()
            return None
        revoked = (REVOCATION, "*") in heard
        heard.pop((REVOCATION, "*"), None)
        if revoked and self.on_revocation is not None:
            self.on_revocation()
        if not heard:
            return []
        changes: list[GuardChange] = []
        with Session(self._engine) as session, session.begin():
            for kind, id_ in heard:
                change = read_change(session, kind, id_)
                if change is not None:
                    changes.append(change)
        return changes

    def wait_listening(self, timeout: float, *, listening: bool = True) -> int | None:
        """Block until the feed listens (``listening=False``: has lost its connection), at most ``timeout`` seconds;
        the listening connection's backend pid, or None when not listening."""
        with self._listening:
            self._listening.wait_for(lambda: (self.backend_pid is not None) is listening, timeout)
            return self.backend_pid

    def close(self) -> None:
        self._drop()

    def _take(self, payload: str, heard: dict[tuple[str, str], None]) -> None:
        parsed = parse(payload)
        if parsed is None:
            log.warning("ignored a notification on %s that Remit does not send", CHANNEL)
            return
        heard[(REVOCATION, "*") if parsed[0] == REVOCATION else parsed] = None

    def _connection(self) -> psycopg.Connection[Any] | None:
        import psycopg

        if self._conn is not None:
            return self._conn
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + self.retry_seconds
        from remit.store.pgconn import connect  # psycopg: a process on SQLite never loads it

        try:
            conn = connect(*self._bounds, self._url, autocommit=True, application_name="remit-listen")
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            log.warning("the policy change listener cannot connect (%s); polling meanwhile", exc)
            return None
        with self._listening:
            self._conn = conn
            self.backend_pid = conn.info.backend_pid
            self._listening.notify_all()
        log.info("listening for policy changes on %s", CHANNEL)
        return conn

    def _drop(self) -> None:
        import psycopg

        conn = self._conn
        self._next_try = time.monotonic() + self.retry_seconds
        with self._listening:
            self._conn = None
            self.backend_pid = None
            self._listening.notify_all()
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass
