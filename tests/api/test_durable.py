"""Waiting on audit receipts from the event loop: every waiter is released by one resolution, failures reach all."""

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
