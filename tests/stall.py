"""A TCP proxy on 127.0.0.1 that a test can freeze and thaw: a stalled database without stopping one.

``FreezableProxy(host, port)`` listens on an ephemeral loopback port and relays every connection to the upstream
server. ``freeze()`` stops relaying in both directions and keeps every socket open, exactly what clients of a
``SIGSTOP``-ed server see: connections are still accepted (the kernel completes the handshake), bytes sent are
acknowledged and buffered, and nothing ever comes back. ``thaw()`` relays again, the buffered bytes first, as a
server resumed with ``SIGCONT`` would read them; a connection its client closed meanwhile is closed upstream then.

Used in front of the shared PostgreSQL server, which is never stopped itself. ``timed`` runs a call that should
answer within a bound, and fails the test, rather than hang it, if it does not answer at all.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.engine import make_url

#: how often a relay thread looks again at its sockets and at ``closed`` (not a timing of the test)
_POLL_SECONDS = 0.02


class _Pipe:
    """One direction of one connection: reads ``src`` and writes ``dst`` while the proxy is thawed."""

    def __init__(self, proxy: FreezableProxy, src: socket.socket, dst: socket.socket) -> None:
        self.proxy, self.src, self.dst = proxy, src, dst
        #: held while a chunk is read and written: ``freeze`` takes it to know that no chunk is under way
        self.busy = threading.Lock()

    def run(self) -> None:
        try:
            while not self.proxy.closed:
                if not self.proxy.running.wait(_POLL_SECONDS):
                    continue  # frozen: the bytes stay in the kernel's buffers, acknowledged, as a stopped server's do
                readable, _, _ = select.select([self.src], [], [], _POLL_SECONDS)
                if not readable:
                    continue
                with self.busy:
                    if not self.proxy.running.is_set():
                        continue  # frozen while waiting: read nothing
                    data = self.src.recv(65536)
                    if not data:
                        self.dst.shutdown(socket.SHUT_WR)
                        return
                    self.dst.sendall(data)
        except OSError:
            pass  # the other side went away: the connection is over
        finally:
            for s in (self.src, self.dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class FreezableProxy:
    """A relay to ``upstream_host:upstream_port`` on ``127.0.0.1:<port>``; a context manager that stops it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.running = threading.Event()
        self.running.set()
        self.closed = False
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0  #: connections accepted so far
        self._acceptor = threading.Thread(target=self._accept, name="stall-proxy-accept", daemon=True)
        self._acceptor.start()

    @classmethod
    def before(cls, database_url: str) -> FreezableProxy:
        """A proxy in front of the PostgreSQL server of ``database_url``."""
        url = make_url(database_url)
        return cls(url.host or "127.0.0.1", url.port or 5432)

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at this proxy instead of its server."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def freeze(self) -> None:
        """Stop relaying; returns once no chunk is in flight any more."""
        self.running.clear()
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            with pipe.busy:
                pass

    def thaw(self) -> None:
        self.running.set()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def close(self) -> None:
        self.closed = True
        self.running.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in [self._acceptor, *self._threads]:
            thread.join(5)
        for s in sockets:
            s.close()

    def __enter__(self) -> FreezableProxy:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                readable, _, _ = select.select([self._listener], [], [], _POLL_SECONDS)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pipes = [_Pipe(self, client, server), _Pipe(self, server, client)]
            threads = [threading.Thread(target=p.run, name="stall-proxy-pipe", daemon=True) for p in pipes]
            with self._lock:
                self.accepted += 1
                self._sockets += [client, server]
                self._pipes += pipes
                self._threads += threads
            for thread in threads:
                thread.start()


@dataclass
class Outcome:
    """What a call did: its value or the exception it raised, and how long it took."""

    seconds: float
    value: Any = None
    error: BaseException | None = None


#: the outer limit on a call that should answer within its bound: past it the test fails instead of hanging
HANG_SECONDS = 20.0


def timed(fn: Callable[[], Any], *, limit: float = HANG_SECONDS) -> Outcome:
    """Call ``fn`` on a thread of its own and time it. If it is still waiting after ``limit`` seconds the test
    fails there (the thread is left to the proxy's thaw or close), rather than hang the whole run."""
    outcome: list[Outcome] = []

    def run() -> None:
        started = time.monotonic()
        try:
            value = fn()
        except BaseException as exc:  # reported, not raised, on this thread
            outcome.append(Outcome(time.monotonic() - started, error=exc))
        else:
            outcome.append(Outcome(time.monotonic() - started, value=value))

    thread = threading.Thread(target=run, name="stall-timed", daemon=True)
    thread.start()
    thread.join(limit)
    assert outcome, f"still waiting after {limit:g} s: the wait is not bounded"
    return outcome[0]
