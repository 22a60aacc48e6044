"""``AuditStore.append`` on the DBAPI connection: the same rows, checkpoints and head as ``append_in`` through a
session, on SQLite and PostgreSQL; refused batches leave nothing behind and the connection usable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.audit.service import verify_chain
from remit.audit.signing import SigningKey
from remit.errors import StoreError
from remit.store import migrate
from remit.store.audit import AuditStore, CheckpointPolicy, append_in
from remit.store.db import make_engine
from remit.store.tables import AuditCheckpointRow, AuditRow

KEY = SigningKey.generate()
EVERY_3 = CheckpointPolicy(signer=lambda payload: (KEY.key_id, KEY.sign(payload)), every=3)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _body(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "schema": "remit.audit/v1",
        "id": f"dec_test_{n:04d}",
        "at": f"2026-11-29T04:00:{n:02d}.000000Z",
        "kind": "decision",
        "action": "call_tool",
        "source": "sdk",
        "principal": {"type": "Agent", "id": f"agent-{n % 3}", "owner": "alice"},
        "resource": {"type": "Tool", "id": "helpdesk.get_ticket"},
        "decision": {"allowed": n % 2 == 0, "policies": ["p1"]},
        "context": {"n": n, "note": "ünïcode ✓"},
        **extra,
    }


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        events = [tuple(r) for r in conn.execute(select(AuditRow.__table__).order_by(AuditRow.seq))]
        checkpoints = [tuple(r)[:4] for r in conn.execute(select(AuditCheckpointRow.__table__))]  # not signatures
    return events + checkpoints


def _through_sessions(engine: Engine, batches: list[list[dict[str, Any]]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for batch in batches:
        with Session(engine) as session, session.begin():
            out += append_in(session, batch, checkpoint=EVERY_3)
    return out


def test_the_dbapi_path_stores_exactly_what_the_session_path_stores(engine: Engine, database_url: str) -> None:
    batches = [[_body(1)], [_body(2), _body(3), _body(4), _body(5)], [_body(n) for n in range(6, 14)]]
    store = AuditStore(engine)
    got = [pair for batch in batches for pair in store.append(batch, checkpoint=EVERY_3)]
    by_dbapi = _rows(engine)
    assert [seq for seq, _ in got] == list(range(1, 14))
    assert verify_chain(store, [KEY.public]).ok

    # the same batches again, through sessions, on a fresh store of the same kind
    if database_url.startswith("sqlite"):
        other = make_engine(database_url.replace("remit.db", "session.db"))
        migrate.upgrade(other)
    else:
        with engine.begin() as conn:
            for table in ("audit_checkpoints", "audit_events"):
                conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            conn.exec_driver_sql(
                "UPDATE audit_head SET seq = 0, hash = first_prev_hash, checkpoint_seq = 0, checkpoint_at = ''"
            )
        other = engine
    try:
        assert _through_sessions(other, batches) == got
        assert _rows(other) == by_dbapi  # byte for byte: texts, index columns, links, checkpoints
        assert AuditStore(other).head() == store.head()
    finally:
        if other is not engine:
            other.dispose()


def test_a_refused_batch_leaves_the_chain_and_the_connection_as_they_were(engine: Engine) -> None:
    store = AuditStore(engine)
    store.append([_body(1), _body(2)], checkpoint=EVERY_3)
    before, head = _rows(engine), store.head()
    with pytest.raises(StoreError, match="could not be written"):
        store.append([_body(3), _body(1)], checkpoint=EVERY_3)  # a duplicate id: the unique index refuses it
    assert _rows(engine) == before and store.head() == head
    store.append([_body(3)], checkpoint=EVERY_3)  # the pooled connection was rolled back, not left mid-transaction
    assert [r[0] for r in _rows(engine)[:3]] == [1, 2, 3]
    assert verify_chain(store, [KEY.public]).ok


def test_a_record_that_is_not_json_is_refused_before_anything_is_written(engine: Engine) -> None:
    store = AuditStore(engine)
    with pytest.raises(TypeError):
        store.append([_body(1, context={"when": object()})])
    assert _rows(engine) == [] and store.head().seq == 0
    store.append([_body(1)])
    assert store.head().seq == 1


def test_a_value_only_the_column_type_converts_goes_the_session_way(engine: Engine) -> None:
    store = AuditStore(engine)
    odd = _body(1, decision={"allowed": 1, "policies": []})  # an int, not a bool: SQLAlchemy's Boolean takes it
    store.append([odd, _body(2)])
    with engine.connect() as conn:
        allowed = list(conn.execute(select(AuditRow.allowed).order_by(AuditRow.seq)).scalars())
    assert allowed == [True, True]
    assert verify_chain(store, [KEY.public]).ok
