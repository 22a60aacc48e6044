"""TLS for ``remit serve``, and the client certificate of a request for mutual-TLS client authentication (RFC 8705).

uvicorn does not report the peer certificate to the application. ``protocol_class`` gives it an HTTP protocol that
does, in the ASGI TLS extension's shape (``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings, the
client's own certificate first; https://asgi.readthedocs.io/en/latest/specs/tls.html): the TLS handshake is over
when asyncio calls ``connection_made``, so the protocol reads the verified peer certificate there, once per
connection, and wraps its application so that every request on the connection carries it. Nothing of uvicorn's
request handling is copied or patched.

``client_certificate`` reads it back (DER). Behind a TLS-terminating proxy, ``api.client_cert_header`` names the
header in which the proxy forwards the client certificate (URL-encoded PEM, as nginx's ``$ssl_client_escaped_cert``);
it is read only from the addresses in ``api.trusted_proxies``, and never when the connection itself is TLS.

``server_options`` turns the ``api.tls_*`` settings into uvicorn's options: client certificates are asked for but
optional at the TLS layer (``CERT_OPTIONAL``), so every other endpoint works without one; one that is presented must
chain to ``api.tls_client_ca_file``, by default Remit's own CA written to ``<home>/agent-ca.pem``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from remit.errors import ConfigurationError
from remit.settings import ApiSettings, Settings

#: the file ``remit serve`` writes Remit's CA certificate to when ``api.tls_client_ca_file`` is not set
CA_FILE: Final = "agent-ca.pem"
#: the longest forwarded certificate header read (a PEM certificate, URL-encoded, is a few KiB)
MAX_HEADER_CHARS: Final = 16_384

_TLS_VERSIONS: Final = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class _WithPeerCertificate:
    """The application of one TLS connection: every request's scope carries the connection's ``tls`` extension."""

    __slots__ = ("_app", "_tls")

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self._app = app
        self._tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self._tls}}
        await self._app(scope, receive, send)


def _tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection, or None for plain HTTP."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
        "cipher_name": cipher[0] if cipher else None,  # not in the spec: for logs
    }


class PeerCertificateH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, reporting the TLS connection (and the client certificate) to the application."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = _tls_extension(transport)
        if tls is not None:
            self.app = _WithPeerCertificate(self.app, tls)


def protocol_class() -> type[asyncio.Protocol]:
    """The HTTP protocol for a TLS server: httptools when installed (uvicorn's default), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is an optional extra of uvicorn
        return PeerCertificateH11Protocol

    class PeerCertificateHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, reporting the TLS connection (and the client certificate)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            tls = _tls_extension(transport)
            if tls is not None:
                self.app = _WithPeerCertificate(self.app, tls)

    return PeerCertificateHttpToolsProtocol


# -- in the application ---------------------------------------------------------------------------------------------


def client_certificate(request: Request, api: ApiSettings) -> bytes | None:
    """The DER client certificate of a request: from the TLS connection, or (only on plain HTTP, only from a trusted
    proxy) from ``api.client_cert_header``. None when there is none or it cannot be read."""
    tls = (request.scope.get("extensions") or {}).get("tls")
    if isinstance(tls, Mapping):
        chain = tls.get("client_cert_chain")
        first = next(iter(chain), None) if isinstance(chain, Iterable) else None
        return _der(first) if isinstance(first, str) else None
    header = api.client_cert_header
    client = request.client
    if header is None or client is None or client.host not in api.trusted_proxies:
        return None
    value = request.headers.get(header)
    if not value or len(value) > MAX_HEADER_CHARS:
        return None
    return _der(unquote(value))


def _der(pem: str) -> bytes | None:
    try:
        return ssl.PEM_cert_to_DER_cert(pem.strip() + "\n")
    except (ValueError, TypeError):
        return None


# -- in the server --------------------------------------------------------------------------------------------------


def server_options(settings: Settings, ca_pem: str | None) -> dict[str, Any]:
    """uvicorn's TLS options for ``settings`` (empty without ``api.tls_cert_file``). ``ca_pem`` is Remit's CA
    certificate, written to ``<home>/agent-ca.pem`` unless ``api.tls_client_ca_file`` names another file; without
    either, no client certificate is asked for.

    Raises:
        ConfigurationError: a file that cannot be read.
    """
    api = settings.api
    if api.tls_cert_file is None:
        return {}
    for name, path in (("api.tls_cert_file", api.tls_cert_file), ("api.tls_key_file", api.tls_key_file)):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"{name} names {path}, which is not a readable file", field=name)
    options: dict[str, Any] = {
        "ssl_certfile": str(api.tls_cert_file),
        "ssl_keyfile": str(api.tls_key_file) if api.tls_key_file is not None else None,
        "ssl_context_factory": _hardened,
        "http": protocol_class(),
    }
    trust = api.tls_client_ca_file
    if trust is not None and not trust.is_file():
        raise ConfigurationError(f"api.tls_client_ca_file names {trust}, which is not a readable file")
    if trust is None and ca_pem is not None:
        trust = _write_ca(settings.home / CA_FILE, ca_pem)
    if trust is not None:
        options["ssl_cert_reqs"] = ssl.CERT_OPTIONAL  # asked for, not required: other endpoints work without one
        options["ssl_ca_certs"] = str(trust)
    return options


def _hardened(_config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's context, TLS 1.2 at least, and no renegotiation: the certificate read when the connection was made
    stays the connection's certificate."""
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context


def _write_ca(path: Path, pem: str) -> Path:
    """Write the (public) CA certificate where the TLS layer reads it; replaced whole, never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(pem, encoding="ascii")
    partial.replace(path)
    return path
