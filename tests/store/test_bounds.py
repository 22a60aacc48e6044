"""Every wait for the database is bounded (``remit.store.bounds``): a stalled PostgreSQL server (behind a proxy the
test freezes, as ``SIGSTOP`` would), a statement the server runs too long, a connect that gets no answer, a pool with
no free connection, a locked SQLite file. Past the bound: an error at once, the hung connection discarded, and the
next use works again when the database answers. Real time only for the bounds themselves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from remit.errors import StoreError
from remit.store import migrate
from remit.store.bounds import GRACE_SECONDS, RETRY_SECONDS, Timeouts, unbounded
from remit.store.db import bounds_of, make_engine
from remit.store.repository import SqlStore
from tests.stall import FreezableProxy, timed

#: the bounds under test: small, so that the tests take seconds (a connect is bounded in whole seconds, at least 2)
TIMEOUTS = Timeouts(connect=2, statement=0.3, pool=0.3)
#: how much later than its bound a call may answer on a busy machine
MARGIN = 1.0


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    database = request.getfixturevalue("_postgres_database")
    database.reset()
    url: str = database.url
    return url


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FreezableProxy]:
    with FreezableProxy.before(postgres_url) as proxy:
        yield proxy


@pytest.fixture
def engine(proxy: FreezableProxy, postgres_url: str) -> Iterator[Engine]:
    """An engine with the test's bounds, through the proxy."""
    engine = make_engine(proxy.url(postgres_url), timeouts=TIMEOUTS)
    try:
        yield engine
    finally:
        engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def _recovered(engine: Engine) -> int:
    """The backend pid of the first connection that works again, retried as a request would be (the gate lets one
    caller try every RETRY_SECONDS)."""
    deadline = time.monotonic() + RETRY_SECONDS + TIMEOUTS.connect + MARGIN
    while True:
        try:
            return _backend(engine)
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # a retry loop's pause, not a timing


@pytest.mark.postgres
def test_a_stalled_server_costs_a_statement_its_bound_and_the_connection(engine: Engine, proxy: FreezableProxy) -> None:
    before = _backend(engine)
    with proxy.frozen():
        stalled = timed(lambda: _backend(engine))
        assert isinstance(stalled.error, OperationalError)
        assert stalled.seconds >= TIMEOUTS.stall
        assert stalled.seconds < TIMEOUTS.stall + MARGIN
        # known down now: the next caller is refused at once, not after a bound of its own
        refused = timed(lambda: _backend(engine))
        assert isinstance(refused.error, OperationalError)
        assert "not answering" in str(refused.error)
        assert refused.seconds < 0.2
        gate = bounds_of(engine)
        assert gate is not None and gate[1].down
    after = _recovered(engine)  # thawed: the engine recovers by itself
    assert after != before  # the connection that hung was discarded, not used again
    assert not gate[1].down


@pytest.mark.postgres
def test_a_running_server_cancels_a_long_statement_itself_and_the_connection_stays(postgres_url: str) -> None:
    engine = make_engine(postgres_url, timeouts=TIMEOUTS)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            slow = timed(lambda: conn.execute(text("SELECT pg_sleep(5)")))
            assert isinstance(slow.error, OperationalError)
            assert "statement timeout" in str(slow.error)  # the server's own cancellation, before the client's bound
            assert slow.seconds < TIMEOUTS.statement + GRACE_SECONDS
            conn.rollback()
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # the same connection
        gate = bounds_of(engine)
        assert gate is not None and not gate[1].down  # a slow statement is not a stalled server
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connect_that_gets_no_answer_is_bounded(engine: Engine, proxy: FreezableProxy) -> None:
    with proxy.frozen():
        connecting = timed(lambda: _backend(engine))  # no connection yet: the first one is opened now
        assert isinstance(connecting.error, OperationalError)
        assert TIMEOUTS.connect <= connecting.seconds < TIMEOUTS.connect + MARGIN
        assert timed(lambda: _backend(engine)).seconds < 0.2  # refused at once while another try is due
    _recovered(engine)


@pytest.mark.postgres
def test_maintenance_runs_without_the_statement_bound_for_its_transaction_only(engine: Engine) -> None:
    with engine.connect() as conn:
        with unbounded(conn):
            conn.execute(text("SELECT pg_sleep(:s)"), {"s": TIMEOUTS.stall + 0.2})  # past both bounds: still fine
        conn.commit()
        with pytest.raises(OperationalError, match="statement timeout"):  # the next transaction is bounded again
            conn.execute(text("SELECT pg_sleep(:s)"), {"s": TIMEOUTS.stall + 0.2})


@pytest.mark.postgres
def test_migrations_wait_for_another_servers_migration_beyond_the_bound(engine: Engine, postgres_url: str) -> None:
    """A server starting while another migrates waits for the advisory lock however long that takes."""
    other = make_engine(postgres_url, timeouts=TIMEOUTS)
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate._LOCK_KEY})
            upgrading = threading.Thread(target=migrate.upgrade, args=(engine,))
            upgrading.start()
            upgrading.join(TIMEOUTS.stall + 0.3)
            assert upgrading.is_alive()  # still waiting for the lock, past every bound
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate._LOCK_KEY})
            holder.commit()
            upgrading.join(20)
            assert not upgrading.is_alive()
    finally:
        other.dispose()
    assert migrate.current(engine) == migrate.head()


def test_a_locked_sqlite_database_is_bounded_by_the_statement_bound(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/remit.db", timeouts=TIMEOUTS)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    try:
        with engine.connect() as holder:  # another process's writer, holding the write lock
            holder.exec_driver_sql("COMMIT")
            holder.exec_driver_sql("BEGIN IMMEDIATE")

            def write() -> None:
                with store.transaction() as tx:
                    tx.get_user("alice")

            locked = timed(write)
            holder.rollback()
        assert isinstance(locked.error, StoreError) and locked.error.code == "store_unavailable"
        assert TIMEOUTS.statement <= locked.seconds < TIMEOUTS.statement + MARGIN
        write()  # the lock released: the next write goes through
    finally:
        engine.dispose()


def test_a_request_waits_for_a_free_pooled_connection_no_longer_than_the_pool_bound(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/remit.db", timeouts=TIMEOUTS)
    migrate.upgrade(engine)
    store = SqlStore(engine)
    held = []
    try:
        while True:  # every connection the pool may open, checked out
            try:
                held.append(engine.connect())
            except PoolTimeout:
                break

        def read() -> None:
            with store.transaction(readonly=True) as tx:
                tx.get_user("alice")

        waiting = timed(read)
        assert isinstance(waiting.error, StoreError) and waiting.error.code == "store_unavailable"
        assert TIMEOUTS.pool <= waiting.seconds < TIMEOUTS.pool + MARGIN
        held.pop().close()
        read()  # one free again
    finally:
        for conn in held:
            conn.close()
        engine.dispose()
