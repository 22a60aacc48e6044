"""Real HTTP servers on 127.0.0.1 in a thread, for tests: an ASGI app under uvicorn, or a plain request handler."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn


@contextmanager
def uvicorn_serving(app: Callable[..., Any], what: str = "server", **options: Any) -> Iterator[int]:
    """uvicorn serving ``app`` on an ephemeral loopback port with ``options`` until the block ends; yields the port.
    ``what`` names the server when it does not start."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # bounded wait for the socket, not a timing assertion
        if server.started:
            break
        thread.join(0.01)
    assert server.started, f"{what} did not start"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def http_serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threading HTTP server answering with ``handler`` on an ephemeral loopback port until the block ends; yields
    its base URL (``http://127.0.0.1:<port>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
