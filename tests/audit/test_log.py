"""The audit log's writer on the real store: group commit, receipts, back-pressure, failures, the spool."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from remit.audit.log import AuditLog, AuditUnavailable
from remit.audit.service import ChainAppender
from remit.container import Remit
from remit.errors import StoreError
from remit.policy.authorizer import Authorizer
from remit.store.audit import AuditStore
from tests.stall import timed


def _body(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "schema": "remit.audit/v1",
        "id": f"dec_test_{i}",
        "at": "2026-11-28T10:00:00.000000Z",
        "kind": "decision",
        "action": "call_tool",
        "source": "sdk",
        "principal": {"type": "Agent", "id": f"bot-{i % 3}"},
        "resource": {"type": "Tool", "id": "helpdesk.get_ticket"},
        "decision": {"allowed": True, "effect": "allow", "policies": ["p1"]},
        **extra,
    }


def _log(remit: Remit, **kw: Any) -> AuditLog:
    # the container's key signs; a fresh appender over the same store
    appender = ChainAppender(AuditStore(remit.engine), remit.audit.signing_key, remit.clock, checkpoint_every=50)
    return AuditLog(appender, **kw)


@contextmanager
def writes_blocked(remit: Remit) -> Iterator[None]:
    """Hold the lock every appender needs, from another connection, until the block ends."""
    with remit.engine.connect() as conn:
        if remit.settings.is_sqlite:
            conn.exec_driver_sql("COMMIT")  # SQLAlchemy's own BEGIN is not started yet; be explicit
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")
        try:
            yield
        finally:
            conn.rollback()


def test_records_from_many_threads_are_group_committed_and_chained(remit: Remit) -> None:
    log = _log(remit, batch_seconds=0.005)
    log.start()
    try:
        receipts = []
        lock = threading.Lock()

        def produce(start: int) -> None:
            for i in range(start, start + 50):
                r = log.record(_body(i))
                with lock:
                    receipts.append(r)

        threads = [threading.Thread(target=produce, args=(n * 50,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in receipts:
            r.result(10)
    finally:
        log.stop()
    assert log.stats.committed == 400
    assert log.stats.batches < 400  # grouped, not one commit per record
    assert len({id(r) for r in receipts}) == log.stats.batches
    report = remit.audit.verify(None)
    assert report.ok, report.problem
    assert report.records == 400 and report.checkpoints >= 1  # at batch ends every 50 or more, and at stop
    assert AuditStore(remit.engine).head().checkpoint_seq == 400


def test_a_receipt_resolves_only_once_its_record_is_committed(remit: Remit) -> None:
    log = _log(remit)
    log.start()
    try:
        with writes_blocked(remit):
            receipt = log.record(_body(1))
            assert not receipt.done()  # the writer cannot commit while the lock is held
            assert AuditStore(remit.engine).count() == 0
        receipt.result(10)
        assert AuditStore(remit.engine).count() == 1
    finally:
        log.stop()


def test_when_the_log_cannot_keep_up_callers_are_refused_and_counted(remit: Remit) -> None:
    log = _log(remit, max_pending=5, max_batch=2)
    log.start()
    try:
        with writes_blocked(remit):
            accepted = [log.record(_body(i)) for i in range(5)]
            with pytest.raises(AuditUnavailable) as refused:
                log.record(_body(99))
            assert refused.value.code == "audit_unavailable" and isinstance(refused.value, StoreError)  # HTTP 503
            assert log.stats.refused == 1
        for r in accepted:
            r.result(10)  # nothing accepted is lost
    finally:
        log.stop()
    assert AuditStore(remit.engine).count() == 5


def test_a_batch_that_cannot_commit_fails_its_callers(remit: Remit) -> None:
    log = _log(remit, batch_seconds=0.05)
    log.start()
    try:
        with writes_blocked(remit):  # both records land in one batch
            first = log.record(_body(1))
            second = log.record(_body(1))  # the same id: the store refuses the batch
        with pytest.raises(AuditUnavailable):
            first.result(10)
        assert second is first
        assert log.stats.failures == 1
        log.record(_body(2)).result(10)  # the log goes on
    finally:
        log.stop()
    assert remit.audit.verify(None).ok


def test_a_stopped_log_refuses(remit: Remit) -> None:
    log = _log(remit)
    with pytest.raises(AuditUnavailable):
        log.record(_body(1))
    assert log.stats.refused == 1


def test_async_mode_acknowledges_from_the_spool_and_empties_it_once_committed(remit: Remit, tmp_path: Path) -> None:
    spool = tmp_path / "audit.spool"
    log = _log(remit, mode="async", spool=spool)
    log.start()
    try:
        with writes_blocked(remit):
            receipt = log.record(_body(1))
            assert receipt.done()  # acknowledged before the commit
            assert json.loads(spool.read_text().splitlines()[0])["id"] == "dec_test_1"
        log.flush()
    finally:
        log.stop()
    assert AuditStore(remit.engine).count() == 1
    assert spool.read_bytes() == b""


def test_the_spool_is_replayed_on_start_once_and_a_torn_line_is_skipped(remit: Remit, tmp_path: Path) -> None:
    log = _log(remit)
    log.start()
    log.record(_body(1)).result(10)  # already in the log before the crash
    log.stop()
    spool = tmp_path / "audit.spool"
    lines = [json.dumps(_body(i)) for i in (1, 2, 3)]
    spool.write_text("\n".join(lines) + "\n" + json.dumps(_body(4))[:40])  # the last write was cut short
    again = _log(remit, mode="async", spool=spool)
    again.start()
    again.stop()
    ids = [json.loads(r.text)["id"] for r in AuditStore(remit.engine).records()]
    assert ids == ["dec_test_1", "dec_test_2", "dec_test_3"]
    assert not spool.exists() or spool.read_bytes() == b""
    assert remit.audit.verify(None).ok


def test_a_caller_waits_for_its_record_no_longer_than_the_bound_and_the_record_is_still_kept(remit: Remit) -> None:
    """A commit that does not come back in time (the store held up): the caller is refused at ``ack_timeout``, in
    process (``AuditLog.wait``, ``Authorizer``) as over HTTP; the record is committed once the store answers, so the
    log holds a decision its caller was refused, never the other way round."""
    log = _log(remit, ack_timeout=0.2)
    log.start()
    try:
        with writes_blocked(remit):
            receipt = log.record(_body(1))
            waited = timed(lambda: log.wait(receipt))
            assert isinstance(waited.error, AuditUnavailable) and waited.error.code == "audit_unavailable"
            assert "within 0.2 s" in waited.error.message
            assert 0.2 <= waited.seconds < 1.2
        receipt.result(10)  # committed after all, once the lock was released
    finally:
        log.stop()
    assert AuditStore(remit.engine).count() == 1


def test_an_embedded_check_is_refused_at_the_bound(remit: Remit) -> None:
    remit.authorizer()  # compiles the state, starts the container's log
    authz = Authorizer(remit.pdp, remit.refresher, recorder=remit.decision_recorder, ack_timeout=0.2)
    with writes_blocked(remit):
        checked = timed(lambda: authz.check(("agent", "bot"), "call_tool", ("tool", "helpdesk.get")))
    assert isinstance(checked.error, AuditUnavailable)
    assert "within 0.2 s" in checked.error.message
    assert 0.2 <= checked.seconds < 1.2
    remit.audit_log.flush()
    assert AuditStore(remit.engine).count() == 1  # recorded all the same, once the store answered


SPOOLED_TOKEN = "remit_adm_" + "S" * 21 + "p" * 22


def test_the_spool_holds_records_masked_as_the_chain_does(remit: Remit, tmp_path: Path) -> None:
    """Async mode acknowledges from the spool before the commit: what it wrote there is already masked."""
    spool = tmp_path / "audit.spool"
    log = _log(remit, mode="async", spool=spool, masker=remit.audit_log.masker)
    log.start()
    try:
        with writes_blocked(remit):
            log.record(_body(1, context={"note": f"key is {SPOOLED_TOKEN}", "password": "hunter2"})).result(1)
            spooled = spool.read_text()
        log.flush()
    finally:
        log.stop()
    assert SPOOLED_TOKEN[10:] not in spooled and "hunter2" not in spooled
    line = json.loads(spooled.splitlines()[0])
    assert line["context"] == {"note": "key is [masked:remit_adm]", "password": "***"}
    assert line["masked"] == ["context.note", "context.password"]
    (stored,) = [json.loads(r.text) for r in AuditStore(remit.engine).records()]
    assert stored["context"] == line["context"] and stored["masked"] == line["masked"]


def test_a_spool_written_unmasked_is_masked_when_it_is_replayed(remit: Remit, tmp_path: Path) -> None:
    """A spool left by an older version, which did not mask tokens inside text: replayed, it is masked first."""
    spool = tmp_path / "audit.spool"
    spool.write_text(json.dumps(_body(1, reason=f"pasted {SPOOLED_TOKEN}")) + "\n")
    log = _log(remit, mode="async", spool=spool)
    log.start()
    log.stop()
    (stored,) = [json.loads(r.text) for r in AuditStore(remit.engine).records()]
    assert stored["reason"] == "pasted [masked:remit_adm]" and stored["masked"] == ["reason"]
    assert remit.audit.verify(None).ok
