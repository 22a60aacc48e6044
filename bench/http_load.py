"""A small HTTP/1.1 load generator: keep-alive connections, a fixed number of requests, latency per request.

Written on ``asyncio`` protocols over raw sockets, with every request pre-encoded, so that the client spends as
little CPU as possible per request: on a two-core machine the client and the server share the cores, and a heavy
client (``httpx`` costs ~100 µs of Python a request) would measure itself instead of the server. Responses are
read by ``Content-Length`` (what uvicorn sends for JSON); the status of every response is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    client_cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def encode(path: str, bodies: Sequence[bytes], headers: dict[str, str]) -> list[bytes]:
    """Each body as a complete POST request."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return [
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        + body
        for body in bodies
    ]


class _Connection(asyncio.Protocol):
    def __init__(self, driver: _Driver) -> None:
        self.driver = driver
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send_next(self) -> bool:
        payload = self.driver.take()
        if payload is None or self.transport is None:
            return False
        self.sent_at = time.perf_counter_ns()
        self.transport.write(payload)
        return True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            status = int(head[9:12])
            del self.buffer[: end + 4 + length]
            self.driver.done(time.perf_counter_ns() - self.sent_at, status)
            if not self.send_next():
                if self.transport is not None:
                    self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _content_length(head: bytes) -> int:
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    start += len(b"\r\ncontent-length:")
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


class _Driver:
    def __init__(self, payloads: Sequence[bytes], total: int, max_seconds: float) -> None:
        self.payloads = payloads
        self.total = total
        self.max_seconds = max_seconds
        self.deadline = float("inf")
        self.issued = 0
        self.result = LoadResult()

    def take(self) -> bytes | None:
        if self.issued >= self.total or (self.issued % 32 == 0 and time.perf_counter() > self.deadline):
            self.total = self.issued  # once past the deadline, every connection stops
            return None
        payload = self.payloads[self.issued % len(self.payloads)]
        self.issued += 1
        return payload

    def done(self, latency_ns: int, status: int) -> None:
        self.result.latencies_ns.append(latency_ns)
        self.result.statuses[status] += 1


async def run(
    host: str, port: int, payloads: Sequence[bytes], *, total: int, concurrency: int, max_seconds: float = 600
) -> LoadResult:
    """Send ``total`` requests (cycling through ``payloads``) over ``concurrency`` keep-alive connections, or as
    many as fit in ``max_seconds``."""
    loop = asyncio.get_running_loop()
    driver = _Driver(payloads, total, max_seconds)
    connections: list[_Connection] = []
    for _ in range(concurrency):
        _transport, protocol = await loop.create_connection(lambda: _Connection(driver), host, port)
        connections.append(protocol)
    cpu = time.process_time()
    started = time.perf_counter()
    driver.deadline = started + max_seconds
    for conn in connections:
        if not conn.send_next() and conn.transport is not None:
            conn.transport.close()
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in connections)), timeout=600)
    result = driver.result
    result.seconds = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - cpu
    result.requests = len(result.latencies_ns)
    return result
