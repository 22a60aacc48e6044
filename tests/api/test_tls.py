"""``remit.api.tls``: where a request's client certificate comes from, and the TLS settings' checks."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import Request

from remit.api.tls import client_certificate, server_options
from remit.errors import ConfigurationError
from remit.settings import ApiSettings, load_settings

PEM = ssl.DER_cert_to_PEM_cert(b"0\x03\x02\x01\x00")  # any DER: the app parses it, not this module
DER = b"0\x03\x02\x01\x00"
PROXIED = ApiSettings(client_cert_header="x-client-cert", trusted_proxies=("10.0.0.5",))


def request(host: str, headers: dict[str, str] | None = None, tls: dict[str, Any] | None = None) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/oauth/token",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (host, 40000),
    }
    if tls is not None:
        scope["extensions"] = {"tls": tls}
    return Request(scope)


def test_from_the_tls_connection() -> None:
    assert client_certificate(request("10.9.9.9", tls={"client_cert_chain": [PEM]}), ApiSettings()) == DER
    assert client_certificate(request("10.9.9.9", tls={"client_cert_chain": []}), ApiSettings()) is None
    assert client_certificate(request("10.9.9.9"), ApiSettings()) is None


def test_from_a_trusted_proxy_only() -> None:
    header = {"x-client-cert": quote(PEM, safe="")}
    assert client_certificate(request("10.0.0.5", header), PROXIED) == DER
    assert client_certificate(request("10.0.0.6", header), PROXIED) is None  # not a trusted proxy
    assert client_certificate(request("10.0.0.5", header), ApiSettings()) is None  # no header configured
    assert client_certificate(request("10.0.0.5", {"x-client-cert": "garbage"}), PROXIED) is None
    assert client_certificate(request("10.0.0.5", {"x-client-cert": "A" * 20_000}), PROXIED) is None
    # a TLS connection's own (absent) certificate wins over any header
    on_tls = request("10.0.0.5", header, tls={"client_cert_chain": []})
    assert client_certificate(on_tls, PROXIED) is None


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"api\.client_cert_header needs api\.trusted_proxies"):
        load_settings(home=tmp_path, api={"client_cert_header": "x-client-cert"})
    with pytest.raises(ConfigurationError, match=r"need api\.tls_cert_file"):
        load_settings(home=tmp_path, api={"tls_key_file": tmp_path / "k"})
    plain = load_settings(home=tmp_path)
    assert server_options(plain, "pem") == {}
    missing = load_settings(home=tmp_path, api={"tls_cert_file": tmp_path / "nope.pem"})
    with pytest.raises(ConfigurationError) as bad:
        server_options(missing, None)
    assert bad.value.field == "api.tls_cert_file"
    (tmp_path / "server.pem").write_text("x")
    no_ca = load_settings(home=tmp_path, api={"tls_cert_file": tmp_path / "server.pem"})
    options = server_options(no_ca, None)
    assert "ssl_cert_reqs" not in options and options["ssl_certfile"] == str(tmp_path / "server.pem")
    with_ca = server_options(no_ca, "-----BEGIN CERTIFICATE-----\n")
    assert with_ca["ssl_cert_reqs"] == ssl.CERT_OPTIONAL
    assert Path(with_ca["ssl_ca_certs"]).read_text() == "-----BEGIN CERTIFICATE-----\n"


def test_the_default_issuer_is_https_with_tls(tmp_path: Path) -> None:
    (tmp_path / "server.pem").write_text("x")
    tls = load_settings(home=tmp_path, port=8443, api={"tls_cert_file": tmp_path / "server.pem"})
    assert tls.tokens.issuer == "https://127.0.0.1:8443"
    assert load_settings(home=tmp_path).tokens.issuer == "http://127.0.0.1:8400"
