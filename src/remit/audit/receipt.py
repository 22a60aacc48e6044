"""``Receipt``: what every record of one audit batch waits on, resolved when the batch commits or fails.

It does what ``concurrent.futures.Future`` does for the audit log (``done``, ``result``, ``exception``,
``add_done_callback``, ``set_result``, ``set_exception``), without its shared condition. A ``Future``'s waiters
all sleep on one ``Condition``: when it resolves, each woken thread must take the condition's lock again before
it returns, one after another, and each hand-over waits for the interpreter lock. With dozens of threads
waiting on one batch (``Authorizer.check`` from a thread pool) that chain of hand-overs is a convoy that stalls
them all. Here every waiting thread sleeps on a lock of its own, released by whoever resolves the receipt; a
woken thread returns without touching anything shared.
"""

from __future__ import annotations

import logging
from _thread import LockType, allocate_lock
from collections.abc import Callable
from concurrent.futures import InvalidStateError

log = logging.getLogger(__name__)


class Receipt:
    """Resolved once, by ``set_result(None)`` (committed) or ``set_exception(error)`` (not written)."""

    __slots__ = ("__weakref__", "_callbacks", "_done", "_error", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = allocate_lock()  #: guards the state and the two lists
        self._done = False
        self._error: BaseException | None = None
        self._waiters: list[LockType] = []  #: one held lock per sleeping thread, released to wake it
        self._callbacks: list[Callable[[Receipt], object]] = []

    def done(self) -> bool:
        return self._done

    def result(self, timeout: float | None = None) -> None:
        """Return once committed; raise what it failed with; ``TimeoutError`` if still open after ``timeout``."""
        if not self._done:
            self._wait(timeout)
        if self._error is not None:
            raise self._error

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self._done:
            self._wait(timeout)
        return self._error

    def add_done_callback(self, fn: Callable[[Receipt], object]) -> None:
        """Call ``fn(self)`` once resolved, on the resolving thread (now, if already resolved)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(fn)
                return
        _call(fn, self)

    def set_result(self, _result: None) -> None:
        self._resolve(None)

    def set_exception(self, error: BaseException) -> None:
        self._resolve(error)

    def _resolve(self, error: BaseException | None) -> None:
        with self._lock:
            if self._done:
                raise InvalidStateError("the receipt is already resolved")
            self._error, self._done = error, True
            waiters, self._waiters = self._waiters, []
            callbacks, self._callbacks = self._callbacks, []
        for waiter in waiters:
            waiter.release()
        for fn in callbacks:
            _call(fn, self)

    def _wait(self, timeout: float | None) -> None:
        waiter = allocate_lock()
        waiter.acquire()
        with self._lock:
            if self._done:
                return
            self._waiters.append(waiter)
        if waiter.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return
        with self._lock:
            if self._done:  # resolved as the wait ran out
                return
            self._waiters.remove(waiter)
        raise TimeoutError("the audit log did not confirm the record in time")


def resolved() -> Receipt:
    """A receipt that is already resolved (committed)."""
    receipt = Receipt()
    receipt.set_result(None)
    return receipt


def _call(fn: Callable[[Receipt], object], receipt: Receipt) -> None:
    try:
        fn(receipt)
    except Exception:  # as concurrent.futures does: one failing callback must not keep the others from running
        log.exception("a callback of an audit receipt failed")
