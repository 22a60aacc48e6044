"""Awaiting audit receipts on the event loop, one wake-up per batch rather than one per request.

Every decision recorded in one batch shares one receipt (``remit.audit.receipt.Receipt``; see
``remit.audit.log``). ``asyncio.wrap_future`` would register a callback per awaiting request, and each would
wake the loop from the writer thread on its own; here the first request to wait on a receipt creates the one
``asyncio.Future`` that all of them await, and the writer wakes the loop once for the whole batch.

The wait is bounded (``audit.ack_timeout_seconds``): the one future carries one timer, started by the first request
to wait on it, and when it runs out every request of the batch is refused with ``AuditUnavailable`` at once. A later
request of the batch is refused sooner than its own bound, never later.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import _get_running_loop as _running_loop
from weakref import WeakKeyDictionary

from remit.audit.log import AuditUnavailable
from remit.audit.receipt import Receipt

log = logging.getLogger(__name__)


class _Release(asyncio.Future[None]):
    """The one future every request of a batch awaits. It cannot be cancelled: a request cancelled while it waits
    (its client went away) would otherwise cancel it for all the others; the cancelled request's task is still
    cancelled, when the batch settles (``Task.cancel`` marks it when its future refuses)."""

    timer: asyncio.TimerHandle | None = None  #: refuses every waiter when the bound runs out

    def cancel(self, msg: object = None) -> bool:
        return False


_bridges: WeakKeyDictionary[Receipt, _Release] = WeakKeyDictionary()


def _settle(target: _Release, source: Receipt) -> None:
    if target.done():
        return
    if target.timer is not None:
        target.timer.cancel()
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(None)


def _expire(bridge: _Release, timeout: float) -> None:
    if bridge.done():
        return
    log.warning("the audit log did not confirm a batch within %g s; its requests are refused", timeout)
    bridge.set_exception(
        AuditUnavailable(f"the audit log did not confirm the decision within {timeout:g} s; the request was refused")
    )


def _wake(loop: asyncio.AbstractEventLoop, bridge: _Release, done: Receipt) -> None:
    """Settle ``bridge`` now when the receipt resolved on the loop's own thread (a writer process's answer is read
    there), else from the loop at its next turn (a writer thread)."""
    if _running_loop() is loop:
        _settle(bridge, done)
    else:
        loop.call_soon_threadsafe(_settle, bridge, done)


def _bridge(receipt: Receipt, timeout: float | None) -> _Release:
    bridge = _bridges.get(receipt)
    if bridge is None:
        loop = asyncio.get_running_loop()
        bridge = _Release(loop=loop)
        _bridges[receipt] = bridge
        if timeout is not None:
            bridge.timer = loop.call_later(timeout, _expire, bridge, timeout)
        receipt.add_done_callback(lambda done: _wake(loop, bridge, done))
    return bridge


async def durable(*receipts: Receipt, timeout: float | None = None) -> None:
    """Return once every one of ``receipts`` has resolved; raise what one failed with (``AuditUnavailable``), or
    ``AuditUnavailable`` when one has not resolved within ``timeout`` seconds (None: no bound). The bounds of all of
    them start now, so that a request waits for several batches no longer than for one."""
    waiting: list[_Release] = []
    for receipt in receipts:
        if receipt.done():
            receipt.result()
        else:
            waiting.append(_bridge(receipt, timeout))
    for bridge in waiting:
        await bridge
