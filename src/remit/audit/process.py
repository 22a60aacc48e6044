"""The audit writer in a process of its own, beside a server: the records are chained, inserted and committed
there, not on the server's event loop.

A server whose audit log runs in ``sync`` mode with ``audit.writer = "process"`` (the default) starts one child,
``python -m remit.audit_writer``, joined to it by a Unix socket pair. The event loop sends each group-commit
batch as one frame and goes back to serving; the child takes every frame that has arrived, builds and masks the
records, chains them, inserts them and commits in one transaction, then acknowledges those frames. Only then are
the decisions of those batches released. The server does no database work for its audit log (and builds no
records: decisions travel as ``decision_parts``), and the second core does it.

* **Frames** are a 4-byte big-endian length and a ``pickle`` document. Both ends are this package, run by the
  same interpreter, and the socket pair is private to them (no other process holds either end).
* **The child dies** (killed, out of memory): every batch sent and not acknowledged fails (its decisions are
  refused, never released: fail closed), and the next batch starts a new child. At most one start a second.
* **The server dies** (``kill -9``): the child reads the end of the socket, commits what it has read (none of it
  was acknowledged), signs a checkpoint and exits.
* **Time**: every frame carries the server's clock reading; the child dates the checkpoints it signs (time-based
  and closing ones) by the latest it has received, so that both processes keep one clock (an injected one too).
* **Shutdown**: ``stop`` sends a stop frame; the child commits the rest, signs a checkpoint, answers and exits.

Nothing here touches SQL: the child (``remit.audit_writer``) builds the appender from the ``WriterConfig``.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Json = dict[str, Any]
#: called on the event loop when a batch is settled: (records, commit seconds, error name or None, its token)
Settled = Callable[[int, float, str | None, Any], None]

_LENGTH = struct.Struct(">I")
#: a frame larger than this is a broken peer, not a batch (2,000 records of 8 KiB are ~16 MiB)
MAX_FRAME = 256 * 1024 * 1024
#: how long a new child may take to import, connect to the database and say it is ready
START_SECONDS = 60.0
#: the least time between two starts of a child
RESTART_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WriterConfig:
    """What the child needs to build the same appender as the server's container (sent as the first frame: the
    database URL may carry a password, so it never appears on a command line)."""

    database_url: str
    signing_key_file: str  #: the PEM file of the checkpoint signing key (the server has created it already)
    checkpoint_every: int
    checkpoint_seconds: float
    mask_paths: tuple[str, ...] = ()  #: ``audit.mask_paths``: the child masks every record before writing it
    context_max_bytes: int = 8192  #: ``audit.context_max_bytes``: the child builds decisions' records
    connect_timeout: int = 2  #: ``store.connect_timeout_seconds``: the child's store has the server's bounds
    statement_timeout: float = 2.0  #: ``store.statement_timeout_seconds``
    pool_timeout: float = 2.0  #: ``store.pool_timeout_seconds``


class WriterError(RuntimeError):
    """The child could not be started, or answered something this side does not understand."""


def frame(document: Any) -> bytes:
    payload = pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


#: what one read takes from the socket at most
CHUNK = 1 << 20


class FrameReader:
    """Splits a byte stream into documents. ``receive`` reads into one buffer of its own, reused: ``sock.recv(n)``
    allocates ``n`` bytes a call, and a 1 MiB allocation a call costs ~25 µs of system time here (more with other
    threads running: it was ~130 µs a batch on the acknowledgement thread of a busy ``Remit.authorizer``)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._chunk = bytearray(CHUNK)
        self._view = memoryview(self._chunk)

    def receive(self, sock: socket.socket) -> list[Any] | None:
        """One read from ``sock`` (what is there, up to ``CHUNK``): the documents it completes, or None at the
        stream's end. Raises what ``recv`` raises (``BlockingIOError`` on a non-blocking socket with nothing)."""
        n = sock.recv_into(self._chunk)
        return self.feed(self._view[:n]) if n else None

    def feed(self, data: bytes | memoryview) -> list[Any]:
        self._buffer += data
        out: list[Any] = []
        view = self._buffer
        start = 0
        while len(view) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(view, start)
            if size > MAX_FRAME:
                raise WriterError(f"a frame of {size} bytes: the peer is broken")
            end = start + _LENGTH.size + size
            if len(view) < end:
                break
            out.append(pickle.loads(view[start + _LENGTH.size : end]))  # noqa: S301 - our own child/server only
            start = end
        if start:
            del self._buffer[:start]
        return out


class ProcessWriter:
    """The server's end: sends batches, settles them as the child acknowledges them. Driven by one event loop
    (a server: no thread of its own), or, without a loop (embedded use, ``Remit.authorizer``), by the caller's
    writer thread, with a thread that reads the acknowledgements."""

    def __init__(self, config: WriterConfig, settled: Settled, now: Callable[[], datetime] | None = None) -> None:
        self._config = config
        self._settled = settled
        #: the server's clock: every frame carries its time, and the child dates the checkpoints it signs by it
        self._now = now or (lambda: datetime.now(UTC))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader = FrameReader()
        self._out = bytearray()
        self._writing = False
        self._next_id = 0
        self._unacked: dict[int, tuple[int, Any]] = {}  #: batch id -> (records, token)
        self._last_start = float("-inf")
        self._lock = threading.Lock()  #: ``_unacked`` between the sending and the acknowledgement-reading threads
        #: one sender at a time (threads without a loop): frames whole and in order, one start of a new child
        self._send_lock = threading.RLock()
        self._acks: threading.Thread | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def alive(self) -> bool:
        return self._sock is not None

    @property
    def idle(self) -> bool:
        """Every batch sent has been answered: one sent now is taken at once (or, the child gone, starts another)."""
        return not self._unacked

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the child and wait until it is ready (raises ``WriterError`` if it cannot be). With ``loop``, call
        every other method from that loop's thread; without, from one writer thread."""
        self._loop = loop
        self._spawn()

    def _spawn(self) -> None:
        self._last_start = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            child = subprocess.Popen(  # noqa: S603 - this interpreter, this package's module
                [sys.executable, "-m", "remit.audit_writer", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal reaches the server, which stops the child in order
            )
        except OSError as exc:
            ours.close()
            raise WriterError(f"could not start the audit writer: {exc}") from exc
        finally:
            theirs.close()
        self._reader = FrameReader()  # this child's stream from its first byte
        try:
            ours.sendall(frame(asdict(self._config)))
            ready = self._read_one(ours, START_SECONDS)
        except (OSError, WriterError) as exc:
            ours.close()
            _reap(child)
            raise WriterError(f"the audit writer did not start: {exc}") from exc
        if ready != ("ready",):
            ours.close()
            _reap(child)
            detail = ready[1] if isinstance(ready, tuple) and len(ready) == 2 and ready[0] == "failed" else ready
            raise WriterError(f"the audit writer did not start: {detail}")
        self._child, self._sock = child, ours
        self._out = bytearray()
        loop = self._loop
        if loop is not None:
            ours.setblocking(False)
            loop.add_reader(ours.fileno(), self._readable)
        else:
            ours.setblocking(True)
            self._acks = threading.Thread(target=self._read_acks, args=(ours,), name="remit-audit-acks", daemon=True)
            self._acks.start()

    def _read_one(self, sock: socket.socket, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterError(f"no answer within {timeout:.0f} s")
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                continue
            documents = self._reader.receive(sock)
            if documents is None:
                raise WriterError("it exited (see its messages above)")
            if documents:
                return documents[0]

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to commit what it has and exit; settle every batch it answers; wait for it."""
        with self._send_lock:  # a batch being sent goes first; none is sent (nor a child started) after this
            self._stopping = True
            sock, child = self._sock, self._child
        if sock is None or child is None:
            return
        if self._loop is None:
            self._stop_threaded(sock, child, timeout)
            return
        self._detach()
        try:
            sock.setblocking(True)
            if self._out:
                sock.sendall(bytes(self._out))
                self._out.clear()
            sock.sendall(frame(("stop", self._now())))
            deadline = time.monotonic() + timeout
            while self._unacked and time.monotonic() < deadline:
                readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
                if not readable:
                    break
                documents = self._reader.receive(sock)
                if documents is None:
                    break
                for document in documents:
                    self._handle(document)
        except (OSError, WriterError) as exc:
            log.error("the audit writer did not stop cleanly: %s", exc)
        finally:
            self._finish(sock, child, timeout)

    def _stop_threaded(self, sock: socket.socket, child: subprocess.Popen[bytes], timeout: float) -> None:
        self._sock = None
        try:
            sock.sendall(frame(("stop", self._now())))
        except OSError as exc:
            log.error("the audit writer did not stop cleanly: %s", exc)
        acks = self._acks
        if acks is not None:
            acks.join(timeout)  # it reads the answers until the child closes its end
        self._finish(sock, child, timeout)

    def _finish(self, sock: socket.socket, child: subprocess.Popen[bytes], timeout: float) -> None:
        """After the last answer: close, refuse whatever was not answered, wait for the child (kill it if it hangs)."""
        sock.close()
        self._fail_unacked("the audit writer stopped before committing this batch")
        try:
            child.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            log.error("the audit writer did not exit; killing it")
            child.kill()
            child.wait()

    def _read_acks(self, sock: socket.socket) -> None:
        """The acknowledgement reader of a writer without a loop: until the child closes its end."""
        reader = self._reader
        while True:
            try:
                documents = reader.receive(sock)
            except (OSError, WriterError):
                documents = None
            if documents is None:
                break
            for document in documents:
                self._handle(document)
        if not self._stopping and self._sock is sock:
            self._lost()

    def _detach(self) -> None:
        sock, loop = self._sock, self._loop
        self._sock = None
        if sock is not None and loop is not None and not loop.is_closed():
            loop.remove_reader(sock.fileno())
            if self._writing:
                loop.remove_writer(sock.fileno())
        self._writing = False

    # -- batches --------------------------------------------------------------------------------------------

    def submit(self, batch: list[Json], token: Any) -> None:
        """Send ``batch``; ``settled`` is called with ``token`` once the child has committed it, or could not.
        Never raises: a batch that cannot be sent is settled as failed at once."""
        with self._send_lock:
            self._submit(batch, token)

    def _submit(self, batch: list[Json], token: Any) -> None:
        if self._stopping:
            self._settled(len(batch), 0.0, "the audit writer has stopped", token)
            return
        if self._sock is None:
            if time.monotonic() - self._last_start < RESTART_SECONDS:
                self._settled(len(batch), 0.0, "the audit writer is restarting", token)
                return
            try:
                self._restart()
            except WriterError as exc:
                log.error("%s", exc)
                self._settled(len(batch), 0.0, "the audit writer could not be restarted", token)
                return
        try:
            data = frame(("batch", self._next_id, batch, self._now()))
        except Exception as exc:  # a record that cannot be carried: the same as one that cannot be stored
            log.error("an audit batch of %d records could not be sent: %s", len(batch), type(exc).__name__)
            self._settled(len(batch), 0.0, type(exc).__name__, token)
            return
        with self._lock:
            self._unacked[self._next_id] = (len(batch), token)
            self._next_id += 1
        self._send(data)

    def _restart(self) -> None:
        self.restarts += 1
        child, self._child = self._child, None
        if child is not None:
            _reap(child)
        log.warning("starting a new audit writer")
        self._spawn()

    def _send(self, data: bytes) -> None:
        sock = self._sock
        assert sock is not None
        if self._loop is None:  # the writer thread: blocking
            try:
                sock.sendall(data)
            except OSError:
                self._lost()
            return
        if self._out:
            self._out += data
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost()
            return
        if sent < len(data):
            self._out += data[sent:]
            self._want_write()

    def _want_write(self) -> None:
        if not self._writing and self._loop is not None and self._sock is not None:
            self._writing = True
            self._loop.add_writer(self._sock.fileno(), self._writable)

    def _writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sent = sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self._lost()
            return
        del self._out[:sent]
        if not self._out and self._loop is not None:
            self._writing = False
            self._loop.remove_writer(sock.fileno())

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            documents = self._reader.receive(sock)
        except BlockingIOError:
            return
        except Exception:  # the stream is gone or broken: treat the child as lost
            documents = None
        if documents is None:
            self._lost()
            return
        for document in documents:
            self._handle(document)

    def _handle(self, document: Any) -> None:
        if not (isinstance(document, tuple) and document and document[0] == "done"):
            log.error("the audit writer sent something unexpected; ignoring it")
            return
        _, ids, error, seconds = document
        for batch_id in ids:
            with self._lock:
                entry = self._unacked.pop(batch_id, None)
            if entry is not None:
                self._settled(entry[0], seconds, error, entry[1])

    def _lost(self) -> None:
        """The child is gone: fail what it had not acknowledged; the next batch starts another."""
        with self._lock:
            child, sock = self._child, self._sock
            if sock is None:
                return  # already noticed (by the other thread)
            self._detach()
        sock.close()
        code = child.poll() if child is not None else None
        log.error(
            "the audit writer has gone (%s); %d batches it had not committed are refused",
            "still exiting" if code is None else f"exit status {code}",
            len(self._unacked),
        )
        self._fail_unacked("the audit writer exited before committing this batch")

    def _fail_unacked(self, reason: str) -> None:
        with self._lock:
            unacked, self._unacked = self._unacked, {}
        for records, token in unacked.values():
            self._settled(records, 0.0, reason, token)


def _reap(child: subprocess.Popen[bytes]) -> None:
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def pid_of(writer: ProcessWriter) -> int | None:
    """The child's process id (tests)."""
    child = writer._child
    return child.pid if child is not None and child.poll() is None else None
