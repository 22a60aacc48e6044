"""The audit writer in a process of its own (``audit.writer = "process"``, a server's default): a real child
process on the real store. Decisions travel as parts and are built and masked there; a batch is released only once
the child has committed it; a killed child fails its batches (fail closed) and is replaced; a child that cannot
start stops the server's start with the reason; a bad batch fails alone."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from remit.api.durable import durable
from remit.audit.decisions import decision_record
from remit.audit.log import AuditLog, AuditUnavailable
from remit.audit.process import FrameReader, ProcessWriter, WriterConfig, WriterError, frame, pid_of
from remit.audit.record import Masker, timestamp
from remit.audit.signing import KEY_FILE
from remit.clock import FrozenClock
from remit.container import Remit
from remit.policy.model import AuthzRequest, EntityRef
from remit.settings import Settings, load_settings

T = TypeVar("T")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        home=tmp_path,
        database_url=database_url,
        audit={"writer": "process", "mask_paths": ["context.arguments.card"], "checkpoint_every": 5},
    )


def _body(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "schema": "remit.audit/v1",
        "id": f"evt_test_{i}",
        "at": "2026-11-28T10:00:00.000000Z",
        "kind": "decision",
        "action": "call_tool",
        "source": "sdk",
        "principal": {"type": "Agent", "id": "bot"},
        "resource": {"type": "Tool", "id": "helpdesk.get_ticket"},
        **extra,
    }


def _on_loop(log: AuditLog, work: Callable[[], Awaitable[T]]) -> T:
    """Start ``log`` on a fresh event loop (as a server does), run ``work``, stop the log."""

    async def main() -> T:
        log.start(loop=asyncio.get_running_loop())
        try:
            return await work()
        finally:
            log.stop()

    return asyncio.run(main())


def _texts(remit: Remit) -> list[dict[str, Any]]:
    from remit.store.audit import AuditStore

    return [json.loads(r.text) for r in AuditStore(remit.engine).records()]


def test_decisions_are_built_masked_chained_and_signed_in_the_child(remit: Remit, clock: FrozenClock) -> None:
    log = remit.audit_log
    request = AuthzRequest(
        principal=EntityRef("Agent", "bot"),
        action="call_tool",
        resource=EntityRef("Tool", "payments.refund"),
        context={"arguments": {"card": "4111111111111111", "amount": 20}, "api_key": "sk_live_abcdefghijklmnop"},
    )
    remit.refresher.refresh(force=True)
    decision = remit.pdp.evaluate(request)
    seen: dict[str, Any] = {}

    async def work() -> None:
        seen["deferring"] = log.deferring
        writer = log._process
        assert writer is not None
        seen["pid"] = pid_of(writer)
        receipt = remit.decision_recorder.record(request, decision, source="sdk", actor="test", state=remit.pdp.state)
        await durable(receipt)
        seen["released"] = len(_texts(remit))  # committed before it was released
        for i in range(7):
            await durable(log.record(_body(i, context={"password": "hunter2", "note": "fine"})))

    _on_loop(log, work)
    assert seen["deferring"] is True
    assert seen["released"] == 1
    # the child has gone with the log
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)

    records = _texts(remit)
    assert len(records) == 8
    # the record built in the child is the one the server would have built, masked the same way
    expected = Masker.from_paths(remit.settings.audit.mask_paths).mask(
        decision_record(request, decision, at=clock.now(), source="sdk", actor="test", state=remit.pdp.state)
    )
    first = dict(records[0])
    assert first.pop("seq") == 1
    assert first == json.loads(json.dumps(expected))
    assert first["context"]["arguments"]["card"] != "4111111111111111"
    assert "sk_live_abcdefghijklmnop" not in json.dumps(records)
    assert "hunter2" not in json.dumps(records)
    assert all(r["context"]["note"] == "fine" for r in records[1:])
    # the chain verifies, and the child signed checkpoints (every 5 records, and on its way out)
    report = remit.audit.verify(None)
    assert report.ok, report.problem
    assert report.records == 8
    assert report.checkpoints >= 2
    # the closing one dated by the server's (here frozen) clock, which every frame carries to the child; those
    # written every 5 records by their last record's time; none by the child's own system clock
    with remit.engine.connect() as conn:
        dates = set(conn.execute(text("SELECT at FROM audit_checkpoints")).scalars())
    assert timestamp(clock.now()) in dates
    assert dates <= {timestamp(clock.now()), "2026-11-28T10:00:00.000000Z"}


def test_a_killed_writer_fails_its_batches_and_the_next_batch_starts_another(
    remit: Remit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("remit.audit.process.RESTART_SECONDS", 0.0)
    log = remit.audit_log
    seen: dict[str, Any] = {}

    async def work() -> None:
        await durable(log.record(_body(1)))
        writer = log._process
        assert writer is not None
        first = pid_of(writer)
        assert first is not None
        os.kill(first, signal.SIGSTOP)  # it can take no batch now
        receipt = log.record(_body(2))
        for _ in range(1000):  # let the loop send the batch (no time involved: a bounded number of turns)
            if writer._unacked:
                break
            await asyncio.sleep(0)
        assert writer._unacked, "the batch was not sent"
        os.kill(first, signal.SIGKILL)
        # sent, never acknowledged: never released
        with pytest.raises(AuditUnavailable):
            await durable(receipt)
        assert not writer.alive
        await durable(log.record(_body(3)))  # the next batch starts a new child
        seen["second"] = pid_of(writer)
        seen["first"] = first
        seen["restarts"] = writer.restarts
        seen["failures"] = log.stats.failures

    _on_loop(log, work)
    assert seen["second"] not in (None, seen["first"])
    assert seen["restarts"] == 1
    assert seen["failures"] >= 1
    assert [r["id"] for r in _texts(remit)] == ["evt_test_1", "evt_test_3"]
    assert remit.audit.verify(None).ok


def test_a_writer_that_cannot_start_says_why(tmp_path: Path, remit: Remit) -> None:
    key = str(remit.settings.home / "keys" / KEY_FILE)
    empty = tmp_path / "not-migrated.db"

    async def start(config: WriterConfig) -> None:
        ProcessWriter(config, lambda *_: None).start(asyncio.get_running_loop())

    with pytest.raises(WriterError, match=r"did not start: StoreError: .*the audit log could not be read"):
        asyncio.run(start(WriterConfig(f"sqlite:///{empty}", key, 10, 60.0)))
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    with pytest.raises(WriterError, match="not an unencrypted PEM private key"):
        asyncio.run(start(WriterConfig(remit.settings.resolved_database_url, str(bad_key), 10, 60.0)))


def test_a_bad_batch_fails_alone(remit: Remit) -> None:
    key = str(remit.settings.home / "keys" / KEY_FILE)
    config = WriterConfig(remit.settings.resolved_database_url, key, 1000, 60.0)
    outcomes: dict[str, str | None] = {}

    async def work() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settled(records: int, _seconds: float, error: str | None, token: Any) -> None:
            outcomes[token] = error
            if len(outcomes) == 3 and not done.done():
                done.set_result(None)

        writer = ProcessWriter(config, settled)
        writer.start(loop)
        try:
            # sent back to back: the child may take them in one read, and must not fail the good ones with the bad
            writer.submit([_body(1)], "good-1")
            writer.submit([_body(2, context={"values": {1, 2}})], "bad")  # a set: not JSON
            writer.submit([_body(3)], "good-2")
            await asyncio.wait_for(done, 30)
        finally:
            writer.stop()

    asyncio.run(work())
    assert outcomes["good-1"] is None and outcomes["good-2"] is None
    assert outcomes["bad"] == "TypeError"
    assert [r["id"] for r in _texts(remit)] == ["evt_test_1", "evt_test_3"]


def test_frames_survive_any_split_and_a_broken_length_is_refused() -> None:
    documents = [("batch", i, [_body(i)], datetime.now(UTC)) for i in range(5)]
    stream = b"".join(frame(d) for d in documents)
    for size in (1, 3, 7, 64, len(stream)):
        reader = FrameReader()
        out: list[Any] = []
        for start in range(0, len(stream), size):
            out.extend(reader.feed(stream[start : start + size]))
        assert out == documents
    with pytest.raises(WriterError, match="broken"):
        FrameReader().feed(b"\xff\xff\xff\xff" + pickle.dumps(None))


def test_embedded_threads_use_the_writer_process_too(remit: Remit) -> None:
    """``remit.authorizer()`` (no event loop): a writer thread sends the batches, another reads the answers."""
    authz = remit.authorizer()
    writer = remit.audit_log._process
    assert writer is not None and remit.audit_log.deferring
    pid = pid_of(writer)
    assert pid is not None
    answers: list[bool] = []

    def work(k: int) -> None:
        for i in range(10):
            answers.append(authz.check(("agent", f"bot-{k}"), "call_tool", ("tool", f"t{i}")).allowed)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [False] * 40  # no such agents: denied, and every denial recorded before it was returned
    assert len(_texts(remit)) == 40
    remit.audit_log.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    report = remit.audit.verify(None)
    assert report.ok and report.records == 40 and report.checkpoints >= 1


def test_one_shot_commands_do_not_start_a_writer_process(remit: Remit) -> None:
    remit.authorizer(audit_process=False)
    assert remit.audit_log._process is None and not remit.audit_log.deferring


def test_a_server_answers_decisions_only_once_its_writer_process_has_them(remit: Remit) -> None:
    """Over HTTP, as ``remit serve`` runs: the AuthZEN answer's decision id is in the log when the answer arrives."""
    from remit.admin.access import AdminPrincipal, AdminRole
    from tests.api.conftest import serve

    _, pep = remit.admin_tokens.create(
        AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN), name="pep", role=AdminRole.PEP
    )
    with serve(remit) as server, server.client(pep) as client:
        assert remit.audit_log.deferring
        for i in range(5):
            answer = client.post(
                "/access/v1/evaluation",
                json={
                    "subject": {"type": "agent", "id": f"ghost-{i}"},
                    "action": {"name": "call_tool"},
                    "resource": {"type": "tool", "id": "t"},
                    "context": {"api_key": "sk_live_abcdefghijklmnop"},
                },
            )
            assert answer.status_code == 200 and answer.json()["decision"] is False
            decision_id = answer.json()["context"]["decision_id"]
            stored = {r["id"]: r for r in _texts(remit)}
            assert decision_id in stored  # committed before the answer left
            assert "sk_live_abcdefghijklmnop" not in json.dumps(stored[decision_id])
