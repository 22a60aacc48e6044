"""The ``tokens`` settings section: the issuer derived from the server's address, lifetimes, algorithms."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from remit.clock import FrozenClock
from remit.errors import ConfigurationError
from remit.settings import TokenSettings, load_settings
from remit.tokens import jose
from remit.tokens.exchange import load_trusted


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("REMIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    t = load_settings().tokens
    assert t == TokenSettings(
        issuer="http://127.0.0.1:8400",
        signing_alg="EdDSA",
        access_token_seconds=300,
        max_access_token_seconds=3600,
        key_rotation_days=30,
        kek_file=None,
    )
    assert load_settings().key_encryption_key is None


@pytest.mark.parametrize(
    ("overrides", "issuer"),
    [
        ({"port": 9000}, "http://127.0.0.1:9000"),
        ({"host": "remit.internal"}, "http://remit.internal:8400"),
        ({"host": "::1", "port": 8500}, "http://[::1]:8500"),
        ({"port": 9000, "tokens": {"issuer": "https://remit.example.com"}}, "https://remit.example.com"),
        ({"tokens": {"signing_alg": "ES256"}, "port": 1234}, "http://127.0.0.1:1234"),
        ({"tokens": TokenSettings(signing_alg="ES256"), "port": 1234}, "http://127.0.0.1:1234"),
        ({"tokens": TokenSettings(issuer="https://a.example"), "port": 1234}, "https://a.example"),
    ],
    ids=["port", "host", "ipv6", "given", "section-without-issuer", "model", "model-with-issuer"],
)
def test_issuer(overrides: dict[str, object], issuer: str) -> None:
    assert load_settings(**overrides).tokens.issuer == issuer


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_PORT", "8500")
    monkeypatch.setenv("REMIT_TOKENS__SIGNING_ALG", "ES256")
    monkeypatch.setenv("REMIT_TOKENS__KEY_ROTATION_DAYS", "7")
    monkeypatch.setenv("REMIT_KEY_ENCRYPTION_KEY", "c2VjcmV0")
    s = load_settings()
    assert (s.tokens.issuer, s.tokens.signing_alg, s.tokens.key_rotation_days) == ("http://127.0.0.1:8500", "ES256", 7)
    assert s.key_encryption_key is not None and s.key_encryption_key.get_secret_value() == "c2VjcmV0"
    assert "c2VjcmV0" not in repr(s) and "c2VjcmV0" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ({"signing_alg": "HS256"}, "tokens.signing_alg"),
        ({"signing_alg": "none"}, "tokens.signing_alg"),
        ({"issuer": "ftp://remit"}, "tokens.issuer"),
        ({"issuer": "https://remit/?x=1"}, "tokens.issuer"),
        ({"access_token_seconds": 7200}, "tokens.access_token_seconds must not exceed tokens.max_access_token_seconds"),
        ({"max_access_token_seconds": 5}, "tokens.max_access_token_seconds"),
        ({"key_rotation_days": 0}, "tokens.key_rotation_days"),
        ({"lifetime": 5}, "unknown field 'lifetime' in tokens"),
        ({"trusted_issuers": [{"issuer": "https://idp"}]}, "give exactly one of jwks_file, jwks and jwks_uri"),
        (
            {"trusted_issuers": [{"issuer": "https://idp", "jwks": {}, "jwks_file": "k"}]},
            "exactly one of jwks_file, jwks and jwks_uri",
        ),
        ({"trusted_issuers": [{"issuer": "https://idp", "jwks": {}, "algorithms": ["HS256"]}]}, "algorithms"),
        ({"trusted_issuers": [{"issuer": "https://idp", "jwks": {}, "algorithms": []}]}, "must not be empty"),
        ({"trusted_issuers": [{"issuer": "http://127.0.0.1:8400", "jwks": {}}]}, "none may be Remit's own issuer"),
        ({"trusted_issuers": [{"issuer": "https://idp", "jwks": {}}] * 2}, "must be distinct"),
        ({"max_delegation_depth": 0}, "tokens.max_delegation_depth"),
    ],
    ids=[
        "hs256",
        "none",
        "issuer-scheme",
        "issuer-query",
        "lifetime-over-cap",
        "cap-small",
        "rotation-zero",
        "extra",
        "idp-no-keys",
        "idp-two-keys",
        "idp-hmac",
        "idp-no-algs",
        "idp-is-us",
        "idp-twice",
        "depth-zero",
    ],
)
def test_refused(tokens: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(tokens=tokens)
    assert info.value.code == "configuration_error"
    assert message in info.value.message


def test_a_trusted_issuers_keys_are_read_at_start(tmp_path: Path, clock: FrozenClock) -> None:
    good = jose.SigningKey.generate("ES256", kid="idp-1")
    jwks = tmp_path / "idp.json"
    jwks.write_text(json.dumps(jose.export_jwks([good.public_key])))
    [loaded] = load_trusted(
        load_settings(
            tokens={"trusted_issuers": [{"issuer": "https://idp", "jwks_file": str(jwks)}]}
        ).tokens.trusted_issuers,
        clock,
    )
    assert (loaded.issuer, loaded.audience, loaded.user_claim) == ("https://idp", (), "sub")
    assert loaded.keys.find("idp-1") is not None and loaded.keys.find("other") is None

    jwks.write_text("{not json")
    broken = load_settings(tokens={"trusted_issuers": [{"issuer": "https://idp", "jwks_file": str(jwks)}]})
    with pytest.raises(ConfigurationError, match="the keys of https://idp cannot be read"):
        load_trusted(broken.tokens.trusted_issuers, clock)
    missing = load_settings(tokens={"trusted_issuers": [{"issuer": "https://idp", "jwks_file": str(tmp_path / "no")}]})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_trusted(missing.tokens.trusted_issuers, clock)
    remote = load_settings(tokens={"trusted_issuers": [{"issuer": "https://idp", "jwks_uri": "https://idp/jwks"}]})
    with pytest.raises(ConfigurationError, match="nothing here can fetch it"):
        load_trusted(remote.tokens.trusted_issuers, clock)
