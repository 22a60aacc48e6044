"""The outbound HTTP wrapper against a real HTTP server on 127.0.0.1: limits, redirects, address checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from remit.net.http import FetchError, FetchPolicy, fetch_json
from tests.servers import http_serving

LOOPBACK = FetchPolicy(allow_loopback=True)


class _Handler(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        port = self.headers.get("Host", "").rsplit(":", 1)[-1]
        routes = {
            "/jwks": (200, {"Content-Type": "application/json"}, json.dumps({"keys": []}).encode()),
            "/list": (200, {}, b"[1, 2]"),
            "/text": (200, {}, b"not json"),
            "/big": (200, {}, b'{"x": "' + b"a" * 70_000 + b'"}'),
            "/missing": (404, {}, b"{}"),
            "/same": (302, {"Location": "/jwks"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/other": (302, {"Location": f"http://localhost:{port}/jwks"}, b""),
        }
        if self.path == "/slow":
            self.release.wait(10)  # until the test is done: the client gives up first
            return
        status, headers, body = routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    _Handler.release = threading.Event()
    with http_serving(_Handler) as url:
        try:
            yield url
        finally:
            _Handler.release.set()  # before the server stops: a handler still waiting returns


def refusal(url: str, policy: FetchPolicy = LOOPBACK) -> str:
    with pytest.raises(FetchError) as caught:
        fetch_json(url, policy)
    assert caught.value.code == "fetch_failed"
    return caught.value.message


def test_a_json_object_is_fetched_and_same_host_redirects_followed(origin: str) -> None:
    assert fetch_json(f"{origin}/jwks", LOOPBACK) == {"keys": []}
    assert fetch_json(f"{origin}/same", LOOPBACK) == {"keys": []}


def test_what_is_refused(origin: str) -> None:
    assert refusal(f"{origin}/jwks", FetchPolicy()) == "the URL must use https"
    assert refusal(f"{origin}/other") == f"{origin}/other redirects to another host; give the final URL"
    assert refusal(f"{origin}/loop") == f"{origin}/loop redirects more than 3 times"
    assert refusal(f"{origin}/missing") == f"{origin}/missing answered 404, not 200"
    assert refusal(f"{origin}/big") == f"{origin}/big sent more than 65536 bytes"
    assert refusal(f"{origin}/text") == "the document is not JSON"
    assert refusal(f"{origin}/list") == "the document is not a JSON object"
    assert refusal(f"{origin}/slow", FetchPolicy(timeout=0.3, allow_loopback=True)) == (
        f"{origin}/slow did not answer within 0.3 s"
    )
    assert refusal("ftp://127.0.0.1/jwks") == "the URL must be https://host/..."
    assert refusal("https://user:pw@127.0.0.1/jwks") == "the URL must not carry credentials or a fragment"
    assert refusal("https://127.0.0.1/jwks", FetchPolicy()) == "127.0.0.1 resolves to an address that is not public"
    assert refusal("https://10.1.2.3/jwks", LOOPBACK) == "10.1.2.3 resolves to an address that is not public"
    assert refusal("https://[::1]:1/jwks", FetchPolicy()) == "::1 resolves to an address that is not public"
    assert refusal("https://host.invalid/jwks") == "cannot resolve host.invalid"


def test_an_administrators_address_may_be_private_but_still_https(origin: str) -> None:
    trusted = FetchPolicy(allow_private=True)
    assert refusal(f"{origin}/jwks", trusted) == "the URL must use https"
    assert refusal("http://10.1.2.3/jwks", trusted) == "the URL must use https"
    assert refusal("https://224.0.0.1/jwks", trusted) == "224.0.0.1 resolves to a multicast or unspecified address"
    # past the address check: a private address is dialled (here a plain-HTTP server, so TLS fails)
    port = origin.rsplit(":", 1)[-1]
    assert refusal(f"https://127.0.0.1:{port}/jwks", trusted).startswith(f"cannot fetch https://127.0.0.1:{port}/jwks")
