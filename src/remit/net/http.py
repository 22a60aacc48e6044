"""Outbound HTTP: the one wrapper around httpx for documents Remit fetches itself (a registering client's
``jwks_uri``), with the limits a fetch of an address chosen by someone else needs.

* ``https`` only, on a public address: the host is resolved first, and a name that resolves to a loopback, private,
  link-local, multicast or reserved address is refused (no reaching the server's own network). ``allow_loopback``
  (for tests and development) accepts loopback addresses, over ``http`` too.
* A timeout on connecting and on every read, and a cap on the body, counted as it arrives.
* Redirects are followed (at most ``max_redirects``) only to the same scheme, host and port.
* No proxy or ``.netrc`` from the environment, no cookies, no credentials in the URL.

Every failure is a ``FetchError`` whose message says what went wrong, without the body.

NOTE: the address is checked before httpx connects, and httpx resolves the name again; a DNS answer that changes
between the two (rebinding) is not caught. The acceptable sacrifice: a cap on the size and time of what is fetched,
and a JSON document that must parse as a JWK Set, leave little to gain from it.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from remit.errors import RemitError

if TYPE_CHECKING:  # httpx (~50 ms to import) loads with the first request, not with every process that wires Remit
    import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client of this process verifies servers with: httpx's defaults (certifi's roots,
    or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set when first asked), made once: building them reads and parses
    the whole CA bundle (~40 ms here), which httpx would do for every client."""
    import httpx

    return httpx.create_ssl_context()


class FetchError(RemitError):
    """A document could not be fetched, or was not what was asked for."""

    code = "fetch_failed"
    default_message = "the document could not be fetched"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    timeout: float = 5.0  #: seconds, to connect and for each read
    max_bytes: int = 65_536
    max_redirects: int = 3
    allow_loopback: bool = False  #: tests and development: loopback addresses, over http too
    #: an address an administrator configured (a trusted provider's keys), not one a client chose: private and
    #: loopback addresses are fine, over https
    allow_private: bool = False


def fetch_json(url: str, policy: FetchPolicy = FetchPolicy()) -> dict[str, Any]:
    """GET ``url`` and return its body, which must be a JSON object. Raises ``FetchError``."""
    import httpx

    _check(url, policy)
    with httpx.Client(timeout=policy.timeout, follow_redirects=False, trust_env=False, verify=tls_context()) as client:
        for _ in range(policy.max_redirects + 1):
            body, location = _get(client, url, policy)
            if location is None:
                return _json_object(body)
            target = urljoin(url, location)
            if _origin(target) != _origin(url):
                raise FetchError(f"{_show(url)} redirects to another host; give the final URL")
            url = target
    raise FetchError(f"{_show(url)} redirects more than {policy.max_redirects} times")


def _get(client: httpx.Client, url: str, policy: FetchPolicy) -> tuple[bytes, str | None]:
    import httpx

    try:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
            if resp.is_redirect and resp.headers.get("location"):
                return b"", resp.headers["location"]
            if resp.status_code != 200:
                raise FetchError(f"{_show(url)} answered {resp.status_code}, not 200")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise FetchError(f"{_show(url)} sent more than {policy.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks), None
    except httpx.TimeoutException as exc:
        raise FetchError(f"{_show(url)} did not answer within {policy.timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {_show(url)}: {type(exc).__name__}") from exc


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FetchError("the document is not JSON") from exc
    if not isinstance(data, dict):
        raise FetchError("the document is not a JSON object")
    return data


def _check(url: str, policy: FetchPolicy) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError("not a usable URL") from exc
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise FetchError("the URL must be https://host/...")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise FetchError("the URL must not carry credentials or a fragment")
    if parts.scheme != "https" and not policy.allow_loopback:
        raise FetchError("the URL must use https")
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}") from exc
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    loopback = all(a.is_loopback for a in addresses)
    if policy.allow_loopback and loopback:
        return
    if parts.scheme != "https":
        raise FetchError("the URL must use https")
    if any(a.is_multicast or a.is_unspecified for a in addresses):
        raise FetchError(f"{host} resolves to a multicast or unspecified address")
    if not policy.allow_private and any(not a.is_global for a in addresses):
        raise FetchError(f"{host} resolves to an address that is not public")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _show(url: str) -> str:
    """The URL without its query, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
