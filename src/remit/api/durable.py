"""Awaiting audit receipts on the event loop, one wake-up per batch rather than one per request.

Every decision recorded in one batch shares one receipt (``remit.audit.receipt.Receipt``; see
``remit.audit.log``). ``asyncio.wrap_future`` would register a callback per awaiting request, and each would
wake the loop from the writer thread on its own; here the first request to wait on a receipt creates the one
``asyncio.Future`` that all of them await, and the writer wakes the loop once for the whole batch.
"""

from __future__ import annotations

import asyncio
from asyncio import _get_running_loop as _running_loop
from weakref import WeakKeyDictionary

from remit.audit.receipt import Receipt


class _Release(asyncio.Future[None]):
    """The one future every request of a batch awaits. It cannot be cancelled: a request cancelled while it waits
    (its client went away) would otherwise cancel it for all the others; the cancelled request's task is still
    cancelled, when the batch settles (``Task.cancel`` marks it when its future refuses)."""

    def cancel(self, msg: object = None) -> bool:
        return False


_bridges: WeakKeyDictionary[Receipt, asyncio.Future[None]] = WeakKeyDictionary()


def _settle(target: asyncio.Future[None], source: Receipt) -> None:
    if target.done():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(None)


def _wake(loop: asyncio.AbstractEventLoop, bridge: asyncio.Future[None], done: Receipt) -> None:
    """Settle ``bridge`` now when the receipt resolved on the loop's own thread (a writer process's answer is read
    there), else from the loop at its next turn (a writer thread)."""
    if _running_loop() is loop:
        _settle(bridge, done)
    else:
        loop.call_soon_threadsafe(_settle, bridge, done)


async def durable(receipt: Receipt) -> None:
    """Return once ``receipt`` has resolved; raise what it failed with (``AuditUnavailable``)."""
    if receipt.done():
        receipt.result()
        return
    bridge = _bridges.get(receipt)
    if bridge is None:
        loop = asyncio.get_running_loop()
        bridge = _Release(loop=loop)
        _bridges[receipt] = bridge
        receipt.add_done_callback(lambda done: _wake(loop, bridge, done))
    await bridge
