"""The audit log's front: records in from the hot path, group-committed by one writer.

``record(body)`` masks the record and queues it; the writer takes everything queued and appends the batch to the
chain in one transaction. Every record queued for one batch shares one ``Receipt`` (``remit.audit.receipt``, a
lighter ``concurrent.futures.Future``) that resolves when that transaction has committed, or fails if it could not. The
writer is one of:

* a **writer process** (sync mode with a ``WriterConfig``; a server's default, see ``remit.audit.process``): the
  records go to it unmasked (decisions as ``decision_parts``), and it builds, masks, chains and commits them. One
  batch at a time is with it; what is queued meanwhile goes as the next batch when it answers.
* the server's **event loop** (``start(loop=...)`` without a writer process): batches committed between requests;
* a **writer thread** (the CLI, embedding): it waits at most ``batch_seconds`` for more records (up to
  ``max_batch``) before each commit.

* **sync** (default): a caller releases a decision only once its receipt resolves, so an answer that reached a
  caller is durably in the log. The HTTP edge awaits the receipt without blocking the event loop. Nobody waits
  longer than ``ack_timeout`` (a database that does not answer): past it the request is refused with
  ``AuditUnavailable``, and the record, still queued, is committed when the store answers again (the log then
  holds a decision that its caller was refused, never the other way round).
* **async**: ``record`` appends the record to a local spool file (``write`` to an ``O_APPEND`` file, which the
  kernel keeps across a crash of the process) before returning; the receipt is already resolved. The writer
  commits from memory as usual; the spool is emptied once everything in it is committed, and replayed into the
  chain on start (records already there, by id, are skipped). A machine crash can lose what the OS had not
  written out; a process crash (``kill -9``) loses nothing.

Back-pressure: at most ``max_pending`` records wait; beyond that ``record`` raises ``AuditUnavailable`` (the
caller refuses the request: fail closed) and the refusal is counted. Nothing is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from remit.audit.mask import Masker
from remit.audit.process import ProcessWriter, WriterConfig
from remit.audit.receipt import Receipt, resolved
from remit.errors import StoreError

log = logging.getLogger(__name__)

Json = dict[str, Any]


class AuditUnavailable(StoreError):
    """The audit log cannot take or keep this record: the request it belongs to is refused (fail closed).
    A ``StoreError``, so every edge answers it as unavailable (HTTP 503), never as an internal error."""

    code = "audit_unavailable"

    def __init__(self, message: str = "the audit log is unavailable; the request was refused, retry later") -> None:
        super().__init__(message)


class AuditAppender(Protocol):
    def append(self, bodies: Sequence[Json]) -> Any: ...

    def replay(self, bodies: Sequence[Json]) -> int: ...

    def checkpoint(self) -> Any: ...


@dataclass(slots=True)
class AuditStats:
    """Counters the metrics endpoint reads (updated by the writer and by ``record``)."""

    recorded: int = 0
    committed: int = 0
    batches: int = 0
    refused: int = 0
    failures: int = 0
    commit_seconds: list[float] = field(default_factory=list)  #: drained by the metrics collector

    def drain_commit_seconds(self) -> list[float]:
        out, self.commit_seconds = self.commit_seconds, []
        return out


#: the receipt of an async-mode record: already durable in the spool
_DONE = resolved()


def _spool_line(body: Json) -> bytes:
    return (json.dumps(body, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class AuditLog:
    def __init__(
        self,
        appender: AuditAppender,
        *,
        masker: Masker | None = None,
        mode: Literal["sync", "async"] = "sync",
        batch_seconds: float = 0.002,
        max_batch: int = 2000,
        max_pending: int = 50_000,
        spool: Path | None = None,
        checkpoint_seconds: float = 60.0,
        on_commit: Callable[[int, float], None] | None = None,
        process: WriterConfig | None = None,
        now: Callable[[], datetime] | None = None,
        ack_timeout: float = 2.0,
    ) -> None:
        if mode == "async" and spool is None:
            raise ValueError("async audit mode needs a spool file")
        self._appender = appender
        self.masker = masker or Masker()
        self.mode = mode
        self._batch_seconds = batch_seconds
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._checkpoint_seconds = checkpoint_seconds
        self._on_commit = on_commit
        self.stats = AuditStats()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[Json] = []
        self._receipt = Receipt()
        self._inflight = 0  #: records taken by the writer, not yet committed
        self._stop = False
        self._running = False
        self._thread: threading.Thread | None = None
        #: the event loop that commits, when the log runs on one (a server); else the writer thread commits
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._kick: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._spool_path = spool
        self._spool_fd: int | None = None
        self._spooled = 0  #: records in the spool file not yet known committed
        #: sync mode on a server: the batches are committed by a child process (``remit.audit.process``)
        self._process_config = process if mode == "sync" else None
        self._process: ProcessWriter | None = None
        self._now = now  #: the clock a writer process dates its checkpoints by (the system's by default)
        #: the longest a caller waits for its record's receipt (``audit.ack_timeout_seconds``)
        self.ack_timeout = ack_timeout

    # -- the hot path ---------------------------------------------------------------------------------------

    @property
    def deferring(self) -> bool:
        """Records are masked (and decisions built into records) by the writer process, not by ``record``."""
        return self._process is not None

    def record_deferred(self, parts: tuple[Any, ...]) -> Receipt:
        """Queue a decision's ``remit.audit.decisions.decision_parts``, for the writer process to build into its
        record and mask (only while ``deferring``; see ``record`` for the rest)."""
        return self._enqueue(parts)

    def record(self, body: Json) -> Receipt:
        """Mask and queue one record (see the module). Raises ``AuditUnavailable`` when full or stopped."""
        if self._process is not None:  # sync mode: the writer process masks it before anything is written
            return self._enqueue(body)
        masked = self.masker.mask(body)
        # Serialised before the lock is taken: only the write itself must be ordered with the queue (see _commit).
        try:
            line = _spool_line(masked) if self._spool_fd is not None else None
        except (TypeError, ValueError):  # not JSON: raised again below, after the checks, as before
            line = None
        with self._lock:
            self._admit_locked(running=True)
            if self._spool_fd is not None:
                self._spool_write(line if line is not None else _spool_line(masked))
            self._pending.append(masked)
            self.stats.recorded += 1
            receipt = self._receipt
            first = len(self._pending) == 1
            if self._loop is None and (first or len(self._pending) >= self._max_batch):
                self._wake.notify()
        if first and self._loop is not None:
            self._kick_loop()
        return _DONE if self.mode == "async" else receipt

    def wait(self, receipt: Receipt) -> None:
        """Block until ``receipt`` resolves, at most ``ack_timeout`` seconds; ``AuditUnavailable`` if it failed or
        did not resolve in time (not known durable, so not to be released). Never on the event loop that commits."""
        try:
            receipt.result(self.ack_timeout)
        except AuditUnavailable:
            raise
        except TimeoutError as exc:
            raise AuditUnavailable(
                f"the audit log did not confirm the record within {self.ack_timeout:g} s; the request was refused"
            ) from exc

    def record_durably(self, body: Json) -> None:
        """``record`` and ``wait``: return once ``body`` is durably in the log (a token issued, a revocation)."""
        self.wait(self.record(body))

    def _enqueue(self, item: Json | tuple[Any, ...]) -> Receipt:
        """Queue an item for the writer process, unmasked (sync mode, no spool). If the child has answered every
        batch sent, the queue goes to it at once; else it waits for the child's answer (``_settled`` sends it
        then): one batch at a time with the child, everything queued meanwhile in the next one."""
        writer = self._process
        with self._lock:
            self._admit_locked(running=writer is not None)
            assert writer is not None  # refused above otherwise
            self._pending.append(item)  # type: ignore[arg-type]  # the writer process takes both
            self.stats.recorded += 1
            receipt = self._receipt
            here = self._loop is None or threading.get_ident() == self._loop_thread
            now = here and writer.idle
            batch, taken = self._take_locked() if now else ([], receipt)
            kick = not here and len(self._pending) == 1
        if now:
            writer.submit(batch, taken)
        elif kick:  # a thread of the pool: the loop sends it (ProcessWriter is the loop's)
            self._kick_loop()
        return receipt

    def _admit_locked(self, *, running: bool) -> None:
        """Refuse (and count) a record the log cannot take: stopped, or full (back-pressure). Call with the lock."""
        if self._stop or not self._running or not running:
            self.stats.refused += 1
            raise AuditUnavailable("the audit log is not running; the request was refused")
        if len(self._pending) + self._inflight >= self._max_pending:
            self.stats.refused += 1
            raise AuditUnavailable("the audit log is behind; the request was refused, retry later")

    def _send_pending(self) -> None:
        """Send what is queued if the child has answered everything (after an answer; the writer's safety net)."""
        writer = self._process
        if writer is None or (self._loop is not None and threading.get_ident() != self._loop_thread):
            return
        with self._lock:
            if not self._pending or not writer.idle:
                return
            batch, receipt = self._take_locked()
        writer.submit(batch, receipt)

    def _kick_loop(self) -> None:
        loop, kick = self._loop, self._kick
        if loop is None or kick is None:
            return
        if threading.get_ident() == self._loop_thread:
            kick.set()
        else:  # a decision made in the thread pool (batches, searches) or by another thread of the process
            try:
                loop.call_soon_threadsafe(kick.set)
            except RuntimeError:  # the loop has closed: stop() commits what is left
                pass

    def depth(self) -> int:
        """Records queued or being written."""
        return len(self._pending) + self._inflight

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None, *, process: bool | None = None) -> None:
        """Replay the spool (async mode), then start committing: on ``loop`` (a server's event loop, from its
        thread), or on a writer thread of its own. In sync mode with a ``WriterConfig``, the batches go to a writer
        process (``remit.audit.process``) instead: by default on a loop only (a server); ``process=True`` asks
        for it without a loop too (``Remit.authorizer``: threads deciding all the time), ``False`` never.

        On the event loop, batches are committed inline, between requests: a commit of a small batch takes a few
        hundred microseconds, less than handing every batch to another thread and back under the interpreter lock
        costs. Nothing on that loop may then wait for a receipt synchronously (``Authorizer.check``): it awaits
        them (``remit.api.durable``)."""
        if self._running:
            return
        if self._spool_path is not None:
            self._replay_spool()
            if self.mode == "async":
                self._spool_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._spool_fd = os.open(self._spool_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._stop = False
        if self._process_config is not None and (loop is not None if process is None else process):
            writer = ProcessWriter(self._process_config, self._settled, self._now)
            writer.start(loop)  # raises WriterError (a clear message) if the child cannot start
            self._process = writer
        if loop is not None:
            self._loop = loop
            self._loop_thread = threading.get_ident()
            self._kick = asyncio.Event()
            self._task = loop.create_task(self._run_on_loop(), name="remit-audit-writer")
        else:
            run = self._run if self._process is None else self._run_process
            self._thread = threading.Thread(target=run, name="remit-audit-writer", daemon=True)
            self._thread.start()
        self._running = True

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, write a checkpoint, stop the writer."""
        with self._lock:
            self._stop = True
            self._wake.notify()
        running, self._running = self._running, False
        if not running:
            return  # never started (a CLI command): its changes are signed by the next running writer
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        task, self._task = self._task, None
        if task is not None:  # finish what is queued here, on whichever thread stops the log
            loop = self._loop
            if loop is not None and threading.get_ident() != self._loop_thread and not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
            else:
                task.cancel()
            self._loop = self._kick = None
        with self._lock:
            batch, receipt = self._take_locked()
        if batch and self._process is not None:
            self._process.submit(batch, receipt)
        elif batch:
            self._commit(batch, receipt)
        writer, self._process = self._process, None
        if writer is not None:  # the child commits what it was sent and signs the closing checkpoint
            writer.stop(timeout)
        else:
            try:
                self._appender.checkpoint()
            except Exception:
                log.warning("could not write the closing audit checkpoint")
        if self._spool_fd is not None:
            os.close(self._spool_fd)
            self._spool_fd = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything recorded so far is committed (tests, shutdown, the CLI)."""
        with self._lock:
            receipt = self._receipt if self._pending else None
        if receipt is not None:
            receipt.result(timeout)
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.001)

    # -- the writer -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        last_checkpoint = time.monotonic()
        while True:
            with self._lock:
                while not self._pending and not self._stop:
                    self._wake.wait(timeout=min(1.0, self._checkpoint_seconds))
                    if time.monotonic() - last_checkpoint >= self._checkpoint_seconds:
                        break
                if not self._pending and self._stop:
                    return
                if self._pending and len(self._pending) < self._max_batch and not self._stop:
                    # group commit: give concurrent callers a moment to join this batch
                    self._wake.wait(timeout=self._batch_seconds)
                batch, receipt = self._take_locked()
            if batch:
                self._commit(batch, receipt)
            last_checkpoint = self._checkpoint_if_due(last_checkpoint)

    def _run_process(self) -> None:
        """The writer thread beside a writer process: batches go out from ``_enqueue`` and on each answer; this
        only sends what may have been left queued (a safety net, every second) until the log stops."""
        while True:
            with self._lock:
                if not self._stop:
                    self._wake.wait(timeout=1.0)
                if self._stop:
                    return
            self._send_pending()

    async def _run_on_loop(self) -> None:
        kick = self._kick
        assert kick is not None
        last_checkpoint = time.monotonic()
        while True:
            if self._process is not None:  # nothing to do until a record comes: the child signs checkpoints
                await kick.wait()
            else:
                try:
                    await asyncio.wait_for(kick.wait(), timeout=min(1.0, self._checkpoint_seconds))
                except TimeoutError:
                    pass
            kick.clear()
            if self._process is None:
                await asyncio.sleep(0)  # group commit: the requests already runnable add their records first
            with self._lock:
                if self._stop:
                    return
                batch, receipt = self._take_locked()
            if self._process is not None:  # sent; settled when the child answers. It signs checkpoints itself.
                if batch:
                    self._process.submit(batch, receipt)
                continue
            if batch:
                self._commit(batch, receipt)
            last_checkpoint = self._checkpoint_if_due(last_checkpoint)

    def _take_locked(self) -> tuple[list[Json], Receipt]:
        """Everything queued, and the receipt its callers hold; a fresh queue and receipt. Call with the lock."""
        batch, self._pending = self._pending, []
        receipt, self._receipt = self._receipt, Receipt()
        self._inflight += len(batch)
        return batch, receipt

    def _checkpoint_if_due(self, last: float) -> float:
        """Sign the chain's end if ``checkpoint_seconds`` have passed since ``last``; return the new ``last``."""
        if time.monotonic() - last < self._checkpoint_seconds:
            return last
        try:
            self._appender.checkpoint()
        except Exception:
            log.warning("could not write an audit checkpoint; will retry")
        return time.monotonic()

    def _commit(self, batch: list[Json], receipt: Receipt) -> None:
        started = time.perf_counter()
        try:
            self._appender.append(batch)
        except Exception as exc:
            self.stats.failures += 1
            log.error("audit batch of %d records failed to commit: %s", len(batch), type(exc).__name__)
            if self.mode == "async":
                # already acknowledged from the spool: they must be written. Retry (skipping any that did commit)
                # until the store takes them; meanwhile new records queue up and back-pressure applies.
                receipt.set_result(None)
                self._retry(batch)
                return
            with self._lock:
                self._inflight -= len(batch)
            receipt.set_exception(AuditUnavailable("the audit log could not be written; the request was refused"))
            return
        elapsed = time.perf_counter() - started
        with self._lock:
            self._inflight -= len(batch)
            self.stats.committed += len(batch)
            self.stats.batches += 1
            if len(self.stats.commit_seconds) < 10_000:
                self.stats.commit_seconds.append(elapsed)
            if self._spool_fd is not None and not self._pending:
                os.ftruncate(self._spool_fd, 0)  # everything spooled is committed
        if self._on_commit is not None:
            self._on_commit(len(batch), elapsed)
        receipt.set_result(None)

    def _settled(self, records: int, seconds: float, error: str | None, receipt: Receipt) -> None:
        """A batch the child process answered (on the event loop): committed, or refused with ``error``."""
        with self._lock:
            self._inflight -= records
            if error is None:
                self.stats.committed += records
                self.stats.batches += 1
                if len(self.stats.commit_seconds) < 10_000:
                    self.stats.commit_seconds.append(seconds)
            else:
                self.stats.failures += 1
        if error is not None:
            receipt.set_exception(AuditUnavailable("the audit log could not be written; the request was refused"))
        else:
            if self._on_commit is not None:
                self._on_commit(records, seconds)
            receipt.set_result(None)
        self._send_pending()  # what was queued while the child worked

    def _retry(self, batch: list[Json]) -> None:
        delay = 0.05
        while True:
            try:
                self._appender.replay(batch)
            except Exception as exc:
                self.stats.failures += 1
                log.error("audit retry of %d spooled records failed: %s", len(batch), type(exc).__name__)
                if self._stop:
                    log.error("stopping with %d records only in the spool; they are replayed on start", len(batch))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            with self._lock:
                self._inflight -= len(batch)
                self.stats.committed += len(batch)
                self.stats.batches += 1
            return

    # -- the spool ------------------------------------------------------------------------------------------

    def _spool_write(self, line: bytes) -> None:
        assert self._spool_fd is not None
        written = os.write(self._spool_fd, line)
        if written != len(line):  # pragma: no cover - a full disk
            raise AuditUnavailable("the audit spool could not be written; the request was refused")

    def _replay_spool(self) -> None:
        path = self._spool_path
        if path is None or not path.exists():
            return
        bodies: list[Json] = []
        for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                body = json.loads(raw)
            except ValueError:
                log.warning("audit spool line %d is incomplete (a crash while writing it); skipped", number)
                continue
            if isinstance(body, dict) and "id" in body:
                bodies.append(self.masker.mask(body))  # masked when spooled; again (no change) for older spools
        if bodies:
            replayed = self._appender.replay(bodies)
            log.info("audit spool replayed: %s of %d records were not yet in the log", replayed, len(bodies))
        path.unlink()
