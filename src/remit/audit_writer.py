"""The audit writer process: ``python -m remit.audit_writer FD``, started by a server (``remit.audit.process``).

It reads a ``WriterConfig`` from the socket ``FD``, builds the same appender as the server's container (the
database, the chain, the checkpoint signing key), says ``ready``, then loops: it takes every batch that has
arrived, builds and masks their records, appends them all in one transaction and acknowledges them
(``("done", ids, error, seconds)``). A batch whose records cannot be stored fails alone: when several arrived
together and the transaction fails, each is tried again on its own. It signs a checkpoint every
``checkpoint_seconds`` while records arrive, and on its way out. It exits on a stop frame, or when the server's
end of the socket closes (the server died): what it has read is committed first (none of it was acknowledged),
so nothing is lost that a caller was told about.
"""

from __future__ import annotations

import logging
import select
import signal
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remit.audit.decisions import record_from_parts
from remit.audit.mask import Masker
from remit.audit.process import FrameReader, WriterConfig, frame
from remit.audit.service import ChainAppender
from remit.audit.signing import SigningKey
from remit.store.audit import AuditStore
from remit.store.bounds import Timeouts
from remit.store.db import make_engine

log = logging.getLogger("remit.audit_writer")


class ServerClock:
    """The server's clock as of its latest frame (the system's until one arrives): what the checkpoints this
    process signs are dated by."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def now(self) -> datetime:
        return self.at if self.at is not None else datetime.now(UTC)


class _Writer:
    def __init__(self, sock: socket.socket, appender: ChainAppender, config: WriterConfig, clock: ServerClock) -> None:
        self._sock = sock
        self._appender = appender
        self._clock = clock
        self._checkpoint_seconds = config.checkpoint_seconds
        self._masker = Masker.from_paths(config.mask_paths)
        self._context_max = config.context_max_bytes
        self._reader = FrameReader()
        self._unsigned = False  #: records appended since the last time-based checkpoint

    def run(self) -> None:
        last_checkpoint = time.monotonic()
        stopping = False
        while not stopping:
            wait = max(0.0, self._checkpoint_seconds - (time.monotonic() - last_checkpoint))
            readable, _, _ = select.select([self._sock], [], [], wait if self._unsigned else None)
            if readable:
                documents, closed = self._read_available()
                for d in documents:  # the server's clock, as of its latest frame
                    if isinstance(d, tuple) and len(d) >= 2 and isinstance(d[-1], datetime):
                        self._clock.at = d[-1]
                stopping = closed or any(isinstance(d, tuple) and d[:1] == ("stop",) for d in documents)
                batches = [d[:3] for d in documents if isinstance(d, tuple) and len(d) == 4 and d[0] == "batch"]
                if batches:
                    self._append(batches, answer=not closed)
            if self._unsigned and time.monotonic() - last_checkpoint >= self._checkpoint_seconds:
                self._checkpoint()
                last_checkpoint = time.monotonic()
        self._checkpoint()

    def _read_available(self) -> tuple[list[Any], bool]:
        """Everything the server has sent so far (at least one read), and whether its end has closed."""
        documents: list[Any] = []
        self._sock.setblocking(True)
        got = self._reader.receive(self._sock)
        self._sock.setblocking(False)
        while got is not None:
            documents.extend(got)
            try:
                got = self._reader.receive(self._sock)
            except BlockingIOError:
                return documents, False
        return documents, True

    def _append(self, batches: list[tuple[str, int, list[dict[str, Any]]]], *, answer: bool) -> None:
        started = time.perf_counter()
        error = self._try([body for _, _, bodies in batches for body in bodies])
        if error is None or len(batches) == 1:
            self._answer([b[1] for b in batches], error, time.perf_counter() - started, answer)
            return
        for _, batch_id, bodies in batches:  # one bad batch must not refuse the others
            started = time.perf_counter()
            error = self._try(bodies)
            self._answer([batch_id], error, time.perf_counter() - started, answer)

    def _try(self, items: list[Any]) -> str | None:
        """Build (decisions' parts), mask and append ``items`` in one transaction; the error's name, or None."""
        try:
            mask, context_max = self._masker.mask, self._context_max
            bodies = [mask(i if isinstance(i, dict) else record_from_parts(i, context_max)) for i in items]
            self._appender.append(bodies)
        except Exception as exc:  # answered as a failed batch: its callers are refused
            log.error("audit batch of %d records failed to commit: %s", len(bodies), type(exc).__name__)
            return type(exc).__name__
        self._unsigned = True
        return None

    def _answer(self, ids: list[int], error: str | None, seconds: float, answer: bool) -> None:
        if not answer:
            return
        try:
            self._sock.setblocking(True)
            self._sock.sendall(frame(("done", ids, error, seconds)))
            self._sock.setblocking(False)
        except OSError:
            pass  # the server is gone: it released nothing it was not told about

    def _checkpoint(self) -> None:
        try:
            self._appender.checkpoint()
            self._unsigned = False
        except Exception as exc:  # retried at the next interval
            log.warning("could not write an audit checkpoint: %s", type(exc).__name__)


def _build(config: WriterConfig, clock: ServerClock) -> tuple[ChainAppender, Any]:
    timeouts = Timeouts(connect=config.connect_timeout, statement=config.statement_timeout, pool=config.pool_timeout)
    engine = make_engine(config.database_url, timeouts=timeouts)
    path = Path(config.signing_key_file)
    key = SigningKey.from_pem(path.read_bytes(), source=str(path))
    store = AuditStore(engine)
    store.head()  # the database is reachable and migrated: else the server refuses to start, saying why
    appender = ChainAppender(store, key, clock, checkpoint_every=config.checkpoint_every)
    return appender, engine


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops it, after its last batch
    if len(argv) != 2 or not argv[1].isdigit():
        log.error("usage: python -m remit.audit_writer FD (started by a Remit server, not by hand)")
        return 2
    sock = socket.socket(fileno=int(argv[1]))
    reader = FrameReader()
    documents: list[Any] = []
    while not documents:
        got = reader.receive(sock)
        if got is None:
            return 1
        documents = got
    try:
        config = WriterConfig(**documents[0])
        clock = ServerClock()
        appender, engine = _build(config, clock)
    except Exception as exc:  # told to the server, which refuses to start with this message
        sock.sendall(frame(("failed", f"{type(exc).__name__}: {exc}")))
        return 1
    sock.sendall(frame(("ready",)))
    try:
        _Writer(sock, appender, config, clock).run()
    finally:
        engine.dispose()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
