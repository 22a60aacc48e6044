"""Waiting on audit receipts from the event loop: every waiter is released by one resolution, failures reach all, and
nobody waits past the bound (``audit.ack_timeout_seconds``): a batch never confirmed refuses all its waiters at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from remit.api.durable import durable
from remit.audit.log import AuditUnavailable
from remit.audit.receipt import Receipt


def test_many_waiters_on_one_receipt_are_released_when_the_writer_resolves_it() -> None:
    async def main() -> list[str]:
        receipt: Receipt = Receipt()
        done: list[str] = []

        async def waiter(name: str) -> None:
            await durable(receipt)
            done.append(name)

        tasks = [asyncio.create_task(waiter(f"w{i}")) for i in range(20)]
        await asyncio.sleep(0)  # let every waiter start waiting
        assert done == []
        threading.Thread(target=receipt.set_result, args=(None,)).start()  # the writer thread
        await asyncio.gather(*tasks)
        return done

    assert sorted(asyncio.run(main())) == sorted(f"w{i}" for i in range(20))


def test_a_failed_receipt_fails_every_waiter_and_a_resolved_one_returns_at_once() -> None:
    async def main() -> None:
        failed: Receipt = Receipt()
        waiters = [asyncio.create_task(durable(failed)) for _ in range(3)]
        await asyncio.sleep(0)
        threading.Thread(target=failed.set_exception, args=(AuditUnavailable(),)).start()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, AuditUnavailable) for r in results)
        ok: Receipt = Receipt()
        ok.set_result(None)
        await durable(ok)
        with pytest.raises(AuditUnavailable):
            await durable(failed)

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_cancel_the_others() -> None:
    async def main() -> None:
        receipt: Receipt = Receipt()
        first = asyncio.create_task(durable(receipt))
        second = asyncio.create_task(durable(receipt))
        await asyncio.sleep(0)
        first.cancel()  # a client that went away
        await asyncio.sleep(0)
        threading.Thread(target=receipt.set_result, args=(None,)).start()
        await second
        assert first.cancelled() and second.done() and not second.cancelled()

    asyncio.run(main())


# -- the bound (audit.ack_timeout_seconds) ----------------------------------------------------------------------------

#: the bound under test, and how much later than it a waiter may be released on a busy machine
BOUND = 0.2
MARGIN = 1.0


def test_a_batch_that_is_never_confirmed_refuses_every_waiter_at_the_bound() -> None:
    async def main() -> None:
        never: Receipt = Receipt()  # a batch whose commit does not come back (a stalled database)
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiters = [asyncio.create_task(durable(never, timeout=BOUND)) for _ in range(20)]
        results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 20)  # not a hang
        elapsed = loop.time() - started
        assert all(isinstance(r, AuditUnavailable) and r.code == "audit_unavailable" for r in results)
        assert "did not confirm the decision within 0.2 s" in str(results[0])
        assert BOUND <= elapsed < BOUND + MARGIN
        threading.Thread(target=never.set_result, args=(None,)).start()  # committed late: harmless, already refused
        await asyncio.sleep(0)
        with pytest.raises(AuditUnavailable):
            await durable(Receipt(), timeout=0.0)  # a request that joins later gets its own bound

    asyncio.run(main())


def test_a_batch_confirmed_within_the_bound_is_released() -> None:
    async def main() -> None:
        receipt: Receipt = Receipt()
        waiter = asyncio.create_task(durable(receipt, timeout=10))
        await asyncio.sleep(0)
        threading.Thread(target=receipt.set_result, args=(None,)).start()
        await asyncio.wait_for(waiter, 20)

    asyncio.run(main())


def test_a_request_waiting_for_several_batches_waits_one_bound_not_one_per_batch() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(AuditUnavailable):
            await asyncio.wait_for(durable(Receipt(), Receipt(), Receipt(), timeout=0.5), 20)
        return loop.time() - started

    assert 0.5 <= asyncio.run(main()) < 1.0  # one after the other, it would be 1.5 s
