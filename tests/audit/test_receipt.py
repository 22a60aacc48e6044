"""``Receipt``: every waiter of a batch is released by one resolution, on any thread, and failures reach them all."""

from __future__ import annotations

import gc
import threading
import weakref
from concurrent.futures import InvalidStateError

import pytest

from remit.audit.log import AuditUnavailable
from remit.audit.receipt import Receipt, resolved


def _waiting(receipt: Receipt, n: int) -> tuple[list[threading.Thread], list[object]]:
    """``n`` threads calling ``receipt.result()``; each appends what it got (``None`` or the error raised)."""
    got: list[object] = []
    started = threading.Barrier(n + 1)

    def wait() -> None:
        started.wait()
        try:
            receipt.result(10)
            got.append(None)
        except BaseException as exc:
            got.append(exc)

    threads = [threading.Thread(target=wait) for _ in range(n)]
    for t in threads:
        t.start()
    started.wait()
    return threads, got


def test_every_thread_waiting_on_a_receipt_returns_when_it_commits() -> None:
    receipt = Receipt()
    threads, got = _waiting(receipt, 64)
    assert not receipt.done()
    receipt.set_result(None)
    for t in threads:
        t.join(10)
    assert got == [None] * 64 and receipt.done() and receipt.exception() is None
    assert receipt._waiters == []  # nothing kept once resolved


def test_a_failed_receipt_raises_its_error_in_every_waiter_and_later_callers() -> None:
    receipt = Receipt()
    threads, got = _waiting(receipt, 16)
    error = AuditUnavailable("the audit log could not be written; the request was refused")
    receipt.set_exception(error)
    for t in threads:
        t.join(10)
    assert got == [error] * 16
    with pytest.raises(AuditUnavailable, match="could not be written"):
        receipt.result()
    assert receipt.exception() is error


def test_a_wait_that_runs_out_raises_timeout_and_leaves_the_receipt_usable() -> None:
    receipt = Receipt()
    with pytest.raises(TimeoutError, match="did not confirm"):
        receipt.result(timeout=0.01)
    assert receipt._waiters == []  # the expired waiter took itself off
    with pytest.raises(TimeoutError):
        receipt.exception(timeout=0)
    receipt.set_result(None)
    receipt.result(timeout=0)  # resolved: returns at once, whatever the timeout


def test_callbacks_run_once_on_the_resolving_thread_or_at_once_when_already_resolved() -> None:
    receipt = Receipt()
    calls: list[tuple[str, bool]] = []
    receipt.add_done_callback(lambda r: calls.append(("before", r.done())))
    receipt.add_done_callback(lambda r: 1 / 0)  # a failing callback is logged; the others still run
    receipt.add_done_callback(lambda r: calls.append(("after the failing one", r.done())))
    assert calls == []
    resolver = threading.Thread(target=receipt.set_result, args=(None,))
    resolver.start()
    resolver.join(10)
    assert calls == [("before", True), ("after the failing one", True)]
    receipt.add_done_callback(lambda r: calls.append(("late", r.done())))
    assert calls[-1] == ("late", True)


def test_a_receipt_resolves_once() -> None:
    receipt = resolved()
    assert receipt.done()
    with pytest.raises(InvalidStateError):
        receipt.set_result(None)
    with pytest.raises(InvalidStateError):
        receipt.set_exception(AuditUnavailable())
    assert receipt.exception() is None


def test_a_receipt_is_weakly_referenced_and_freed_by_refcount() -> None:
    # remit.api.durable keys the event loop's bridge futures by receipt in a WeakKeyDictionary
    receipt = Receipt()
    ref = weakref.ref(receipt)
    gc.disable()
    try:
        del receipt
        assert ref() is None
    finally:
        gc.enable()
