"""DPoP proofs (RFC 9449 §4.3) under attack: each check refused on its own, with ``invalid_dpop_proof`` and the
status of its context; and the resource server's side (§7): DPoP and Bearer schemes against bound tokens."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from remit.clock import FrozenClock
from remit.errors import ConfigurationError
from remit.tokens import jose
from remit.tokens.dpop import (
    DPOP_ALGORITHMS,
    MAX_PROOF_BYTES,
    DpopVerifier,
    access_token_hash,
    dpop_challenge,
    normalise_htu,
    sign_proof,
    verify_presented,
)
from remit.tokens.dpopnonce import SealedNonces
from remit.tokens.errors import InvalidDpopProof, InvalidToken, TokenError, UseDpopNonce
from remit.tokens.kek import KeyEncryptionKey
from remit.tokens.verify import Binding, InMemoryReplayGuard, KeySet, VerifiedCache, VerifyPolicy

URL = "https://remit.example/oauth/token"
ISSUER = "https://remit.example"
API = "https://tickets.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def native_key(alg: str) -> jose.SigningKey:
    if alg in ("EdDSA", "ES256"):
        return jose.SigningKey.generate(alg)
    native: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    native = ec.generate_private_key(ec.SECP384R1()) if alg == "ES384" else rsa.generate_private_key(65537, 2048)
    encoding, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    pem = native.private_bytes(encoding, pkcs8, serialization.NoEncryption())
    return jose.SigningKey.from_pem(pem, alg=alg)


@pytest.fixture(scope="module")
def key() -> jose.SigningKey:
    return jose.SigningKey.generate("EdDSA")


@pytest.fixture
def verifier(clock: FrozenClock) -> DpopVerifier:
    return DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock)


def public_jwk(key: jose.SigningKey) -> dict[str, Any]:
    return {k: v for k, v in key.public_key.to_jwk().items() if k not in ("kid", "alg", "use")}


def claims(clock: FrozenClock, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"jti": "p-1", "htm": "POST", "htu": URL, "iat": int(clock.now().timestamp())}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def forge(key: jose.SigningKey, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """A proof with exactly this header (``alg`` included) and claims, signed with ``key``'s own algorithm."""
    extra = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    token = jose.sign_compact(
        json.dumps(payload).encode(), key, typ=header.get("typ"), include_kid=False, extra_header=extra
    )
    if header.get("alg", key.alg) == key.alg:
        return token
    _, body, signature = token.split(".")
    return f"{b64(json.dumps(dict(header)).encode())}.{body}.{signature}"


def proof(key: jose.SigningKey, clock: FrozenClock, **changes: Any) -> str:
    return forge(key, {"typ": "dpop+jwt", "alg": key.alg, "jwk": public_jwk(key)}, claims(clock, **changes))


def refused(call: Callable[[], object], description: str, status: int = 400) -> TokenError:
    with pytest.raises(TokenError) as caught:
        call()
    exc = caught.value
    assert type(exc) is InvalidDpopProof
    assert (exc.code, exc.status) == ("invalid_dpop_proof", status)
    assert description in exc.error_description, exc.error_description
    return exc


# -- a valid proof ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", DPOP_ALGORITHMS)
def test_a_valid_proof_gives_the_thumbprint_of_its_key(alg: str, clock: FrozenClock, verifier: DpopVerifier) -> None:
    signer = native_key(alg)
    checked = verifier.verify([proof(signer, clock)], method="POST", url=URL)
    assert checked.jkt == signer.public_key.thumbprint == jose.thumbprint(public_jwk(signer))
    assert (checked.jti, checked.htm, checked.htu, checked.alg) == ("p-1", "POST", URL, alg)


def test_sign_proof_makes_what_verify_accepts(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    now = clock.now().timestamp()
    made = sign_proof(key, method="GET", url=f"{API}/tickets?page=2#x", iat=now, access_token="at-1")
    checked = verifier.verify([made], method="GET", url=f"{API}/tickets", access_token="at-1")
    assert checked.jkt == key.public_key.thumbprint
    header = jose.parse_compact(made).header
    assert set(header) == {"alg", "typ", "jwk"}
    assert "d" not in header["jwk"]


def test_the_allow_list_is_asymmetric_and_a_symmetric_one_is_refused(clock: FrozenClock) -> None:
    assert "none" not in DPOP_ALGORITHMS and not any(a.startswith("HS") for a in DPOP_ALGORITHMS)
    with pytest.raises(ConfigurationError):
        DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock, algorithms=("HS256",))


# -- each check of RFC 9449 §4.3, refused on its own ---------------------------------------------------------


@pytest.mark.parametrize("count", [0, 2])
def test_exactly_one_dpop_header(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, count: int) -> None:
    values = [proof(key, clock, jti=f"p-{i}") for i in range(count)]
    refused(lambda: verifier.verify(values, method="POST", url=URL), "exactly one DPoP header")


@pytest.mark.parametrize("value", ["", "not-a-jwt", "a.b", "é.é.é"])
def test_a_malformed_proof(verifier: DpopVerifier, value: str) -> None:
    refused(lambda: verifier.verify([value], method="POST", url=URL), "malformed")


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_the_type_must_be_dpop_jwt(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, typ: str | None
) -> None:
    token = forge(key, {"typ": typ, "alg": key.alg, "jwk": public_jwk(key)}, claims(clock))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "typ must be dpop+jwt")


def test_the_type_is_a_case_insensitive_media_type(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    token = forge(key, {"typ": "application/DPoP+JWT", "alg": key.alg, "jwk": public_jwk(key)}, claims(clock))
    assert verifier.verify([token], method="POST", url=URL).jkt == key.public_key.thumbprint


def test_alg_none_is_refused(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(key)}
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(clock)).encode())}.{b64(b'x')}"
    refused(lambda: verifier.verify([token], method="POST", url=URL), "alg must be one of")


def test_hs256_with_a_symmetric_jwk_is_refused(clock: FrozenClock, verifier: DpopVerifier) -> None:
    import hmac

    secret = b"s" * 32
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(secret)}}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(clock)).encode())}"
    token = f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    refused(lambda: verifier.verify([token], method="POST", url=URL), "alg must be one of")


@pytest.mark.parametrize(
    ("jwk", "description"),
    [
        (None, "lacks its public key (jwk)"),
        ("a string", "lacks its public key (jwk)"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "private or symmetric key"),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "not usable"),
    ],
)
def test_the_jwk_header_must_be_a_public_key(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, jwk: Any, description: str
) -> None:
    header: dict[str, Any] = {"typ": "dpop+jwt", "alg": key.alg}
    if jwk is not None:
        header["jwk"] = jwk
    token = forge(key, header, claims(clock))
    exc = refused(lambda: verifier.verify([token], method="POST", url=URL), description)
    assert "c2VjcmV0" not in exc.error_description


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBszCCAVmgAwIBAgIU"]),
        ("x5c", []),
        ("jku", None),
    ],
)
def test_a_proof_that_names_a_key_elsewhere_is_refused(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, member: str, value: object
) -> None:
    # correctly signed with the key in its jwk: the key travels in the proof, never behind a URL or a chain
    token = forge(key, {"typ": "dpop+jwt", "alg": key.alg, "jwk": public_jwk(key), member: value}, claims(clock))
    exc = refused(lambda: verifier.verify([token], method="POST", url=URL), f"names a key elsewhere ({member})")
    assert "attacker" not in exc.error_description


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": []},
        {"kty": {}},
        {"kty": 7},
        {"kty": None},
        {"kty": "OKP", "crv": [], "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519", "x": 10**400},
        {"kty": "RSA", "n": 5, "e": []},
    ],
    ids=repr,
)
def test_a_jwk_with_members_of_the_wrong_type_is_refused(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, jwk: dict[str, Any]
) -> None:
    token = forge(key, {"typ": "dpop+jwt", "alg": key.alg, "jwk": jwk}, claims(clock))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "jwk is not usable")


@pytest.mark.parametrize("alg", ["EdDSA", "PS256"])
def test_a_private_key_in_the_jwk_is_refused(alg: str, clock: FrozenClock, verifier: DpopVerifier) -> None:
    signer = native_key(alg)
    private = dict(signer._key.as_dict(private=True))  # the private members, as a careless client would send them
    assert isinstance(private["d"], str)
    token = forge(signer, {"typ": "dpop+jwt", "alg": alg, "jwk": private}, claims(clock))
    exc = refused(lambda: verifier.verify([token], method="POST", url=URL), "private or symmetric key")
    assert private["d"] not in exc.error_description


def test_a_jwk_that_does_not_fit_the_alg_is_refused(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    other = jose.SigningKey.generate("ES256")
    token = forge(key, {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}, claims(clock))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "jwk is not usable")
    token = forge(other, {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}, claims(clock))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "jwk is not usable")


def test_a_signature_by_another_key_is_refused(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    attacker = jose.SigningKey.generate("EdDSA")
    token = forge(attacker, {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": public_jwk(key)}, claims(clock))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "signature does not verify")


def test_a_tampered_proof_is_refused(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    header, _, signature = proof(key, clock).split(".")
    changed = b64(json.dumps(claims(clock, htm="GET")).encode())
    refused(lambda: verifier.verify([f"{header}.{changed}.{signature}"], method="GET", url=URL), "signature")


@pytest.mark.parametrize("name", ["jti", "htm", "htu"])
def test_each_required_claim(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, name: str) -> None:
    token = proof(key, clock, **{name: None})
    refused(lambda: verifier.verify([token], method="POST", url=URL), f"lacks the {name} claim")
    token = proof(key, clock, **{name: 7})
    refused(lambda: verifier.verify([token], method="POST", url=URL), f"lacks the {name} claim")


def test_htm_must_be_the_request_method(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    for htm in ("GET", "post"):
        token = proof(key, clock, htm=htm)
        refused(lambda: verifier.verify([token], method="POST", url=URL), "htm is not this request's method")  # noqa: B023


@pytest.mark.parametrize(
    "htu",
    [
        "https://remit.example/oauth/revoke",
        "http://remit.example/oauth/token",
        "https://remit.example:8443/oauth/token",
        "https://other.example/oauth/token",
        "https://remit.example/oauth/token/",
        "https://user@remit.example/oauth/token",
        "/oauth/token",
        "urn:x:y",
    ],
)
def test_htu_must_be_the_request_uri(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, htu: str
) -> None:
    token = proof(key, clock, htu=htu)
    refused(lambda: verifier.verify([token], method="POST", url=URL), "htu is not this request's URI")


@pytest.mark.parametrize(
    "htu",
    [
        URL,
        "HTTPS://Remit.Example/oauth/token",
        "https://remit.example:443/oauth/token",
        "https://remit.example/oauth/token?query=ignored",
        "https://remit.example/oauth/token#fragment",
        "https://remit.example/o%61uth/token",
    ],
)
def test_htu_is_compared_after_normalisation(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, htu: str
) -> None:
    assert verifier.verify([proof(key, clock, htu=htu, jti=htu)], method="POST", url=URL).htu == URL


def test_normalise_htu() -> None:
    assert normalise_htu("http://Example.COM:80") == "http://example.com/"
    assert normalise_htu("http://example.com:8080/a%2fb%7e") == "http://example.com:8080/a%2Fb~"
    assert normalise_htu("https://[::1]:443/x") == "https://[::1]/x"
    assert normalise_htu("https://example.com:99999/") is None
    assert normalise_htu("ftp://example.com/") is None
    assert normalise_htu("https://u:p@example.com/") is None


def test_iat_window(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    now = int(clock.now().timestamp())
    assert verifier.verify([proof(key, clock, iat=now - 60, jti="old")], method="POST", url=URL)
    assert verifier.verify([proof(key, clock, iat=now + 5, jti="ahead")], method="POST", url=URL)
    stale = proof(key, clock, iat=now - 61)
    refused(lambda: verifier.verify([stale], method="POST", url=URL), "older than 60 seconds (iat)")
    future = proof(key, clock, iat=now + 6)
    refused(lambda: verifier.verify([future], method="POST", url=URL), "issued in the future (iat)")
    missing = proof(key, clock, iat=None)
    refused(lambda: verifier.verify([missing], method="POST", url=URL), "lacks the iat claim")


@pytest.mark.parametrize(
    "iat",
    [
        pytest.param(10**400, id="10**400"),
        pytest.param(-(10**400), id="-10**400"),
        pytest.param(2**64, id="2**64"),
        pytest.param(253402300800, id="year-10000"),
        pytest.param(1e300, id="1e300"),
        pytest.param(-1, id="-1"),
        pytest.param(True, id="true"),
        pytest.param("now", id="string"),
        pytest.param([1], id="array"),
        pytest.param({"iat": 1}, id="object"),
    ],
)
@pytest.mark.parametrize("status", [400, 401])
def test_an_iat_that_is_no_numeric_date_is_refused(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, iat: object, status: int
) -> None:
    token = proof(key, clock, iat=iat)
    refused(
        lambda: verifier.verify([token], method="POST", url=URL, status=status),
        "iat is not a number of seconds",
        status=status,
    )


@pytest.mark.parametrize(
    "payload", [b'{"jti": "p", "htm": "POST", "iat": NaN}', b'{"iat": Infinity}', b'{"iat": 1e400}']
)
def test_nan_and_infinity_are_not_json(key: jose.SigningKey, verifier: DpopVerifier, payload: bytes) -> None:
    jwk = {"jwk": public_jwk(key)}
    token = jose.sign_compact(payload, key, typ="dpop+jwt", include_kid=False, extra_header=jwk)
    refused(lambda: verifier.verify([token], method="POST", url=URL), "claims is not valid JSON")


def test_the_window_is_a_setting(key: jose.SigningKey, clock: FrozenClock) -> None:
    strict = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock, max_age=10, leeway=0)
    now = int(clock.now().timestamp())
    refused(lambda: strict.verify([proof(key, clock, iat=now - 11)], method="POST", url=URL), "older than 10")
    refused(lambda: strict.verify([proof(key, clock, iat=now + 1)], method="POST", url=URL), "in the future")


def test_a_replayed_proof_is_refused_until_it_is_too_old_anyway(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    token = proof(key, clock)
    verifier.verify([token], method="POST", url=URL)
    refused(lambda: verifier.verify([token], method="POST", url=URL), "used before (jti)")
    clock.advance(timedelta(seconds=61))
    refused(lambda: verifier.verify([token], method="POST", url=URL), "older than 60 seconds")
    other = jose.SigningKey.generate("EdDSA")  # the same jti from another key is another proof
    assert verifier.verify([proof(other, clock)], method="POST", url=URL).jkt == other.public_key.thumbprint


def test_a_refused_proof_does_not_use_up_its_jti(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    refused(lambda: verifier.verify([proof(key, clock, htm="GET")], method="POST", url=URL), "htm")
    assert verifier.verify([proof(key, clock)], method="POST", url=URL)


def test_ath_binds_the_proof_to_the_access_token(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    assert access_token_hash("abc") == b64(hashlib.sha256(b"abc").digest())
    missing = proof(key, clock, htm="GET", jti="m")
    refused(lambda: verifier.verify([missing], method="GET", url=URL, access_token="at-1"), "lacks the ath")
    wrong = proof(key, clock, htm="GET", jti="w", ath=access_token_hash("at-2"))
    refused(lambda: verifier.verify([wrong], method="GET", url=URL, access_token="at-1"), "ath is not the hash")
    right = proof(key, clock, htm="GET", jti="r", ath=access_token_hash("at-1"))
    assert verifier.verify([right], method="GET", url=URL, access_token="at-1")


def test_oversized_proofs_are_refused(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    big = proof(key, clock, padding="x" * MAX_PROOF_BYTES)
    refused(lambda: verifier.verify([big], method="POST", url=URL), f"larger than {MAX_PROOF_BYTES} bytes")
    header = {"typ": "dpop+jwt", "alg": key.alg, "jwk": {**public_jwk(key), "x5c": ["A" * 3000]}}
    wide = forge(key, header, claims(clock))
    refused(lambda: verifier.verify([wide], method="POST", url=URL), "header is larger")
    long_jti = proof(key, clock, jti="j" * 257)
    refused(lambda: verifier.verify([long_jti], method="POST", url=URL), "jti is longer than 256")


def test_the_status_is_the_callers(key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier) -> None:
    token = proof(key, clock, htm="GET")
    refused(lambda: verifier.verify([token], method="POST", url=URL, status=401), "htm", status=401)


# -- at a resource server -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer_key() -> jose.SigningKey:
    return jose.SigningKey.generate("EdDSA")


def access_token(issuer_key: jose.SigningKey, clock: FrozenClock, jkt: str | None) -> str:
    now = int(clock.now().timestamp())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "helpdesk",
        "aud": API,
        "client_id": "helpdesk",
        "iat": now,
        "exp": now + 300,
        "jti": f"at-{jkt}",
    }
    if jkt is not None:
        body["cnf"] = {"jkt": jkt}
    return jose.sign_jwt(body, issuer_key, typ="at+jwt")


@pytest.fixture
def tokens(issuer_key: jose.SigningKey, clock: FrozenClock) -> VerifiedCache:
    return VerifiedCache(KeySet([issuer_key.public_key]), VerifyPolicy.access_token(ISSUER, API), clock)


def present(
    verifier: DpopVerifier, tokens: VerifiedCache, authorization: str | None, dpop: list[str], method: str = "GET"
) -> object:
    return verify_presented(authorization, dpop, method=method, url=f"{API}/t", proofs=verifier, tokens=tokens)


def test_a_bound_token_with_its_proof_is_accepted(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, key.public_key.thumbprint)
    made = sign_proof(key, method="GET", url=f"{API}/t?x=1", iat=clock.now().timestamp(), access_token=token)
    verified = verify_presented(f"DPoP {token}", [made], method="GET", url=f"{API}/t", proofs=verifier, tokens=tokens)
    assert verified.cnf_jkt == key.public_key.thumbprint
    again = sign_proof(key, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    assert present(verifier, tokens, f"dpop {token}", [again]) is not None  # the scheme is case-insensitive


def test_a_bound_token_presented_as_bearer_is_refused(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, key.public_key.thumbprint)
    made = sign_proof(key, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    for dpop in ([], [made]):
        with pytest.raises(InvalidToken) as caught:
            present(verifier, tokens, f"Bearer {token}", dpop)
        assert caught.value.status == 401
        assert "bound to a DPoP key" in caught.value.error_description


def test_a_proof_signed_by_another_key_is_refused(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, key.public_key.thumbprint)
    thief = jose.SigningKey.generate("EdDSA")
    made = sign_proof(thief, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    with pytest.raises(InvalidToken) as caught:
        present(verifier, tokens, f"DPoP {token}", [made])
    assert (caught.value.code, caught.value.status) == ("invalid_token", 401)
    assert "bound to another DPoP key" in caught.value.error_description


def test_a_missing_or_foreign_proof_is_refused(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, key.public_key.thumbprint)
    refused(lambda: present(verifier, tokens, f"DPoP {token}", []), "needs a DPoP proof", status=401)
    other = access_token(issuer_key, clock, None)
    made = sign_proof(key, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=other)
    refused(lambda: present(verifier, tokens, f"DPoP {token}", [made]), "ath is not the hash", status=401)
    made = sign_proof(key, method="POST", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    refused(lambda: present(verifier, tokens, f"DPoP {token}", [made]), "htm", status=401)


def test_an_unbound_token_under_the_dpop_scheme_is_refused(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, None)
    assert present(verifier, tokens, f"Bearer {token}", []) is not None
    made = sign_proof(key, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    with pytest.raises(InvalidToken, match="not DPoP-bound"):
        present(verifier, tokens, f"DPoP {token}", [made])


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "DPoP", "Bearer a b"])
def test_a_missing_or_malformed_authorization(
    verifier: DpopVerifier, tokens: VerifiedCache, authorization: str | None
) -> None:
    with pytest.raises(InvalidToken) as caught:
        present(verifier, tokens, authorization, [])
    assert caught.value.status == 401


def test_the_mtls_binding_is_kept_beside_the_dpop_one(
    key: jose.SigningKey, issuer_key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, tokens: VerifiedCache
) -> None:
    token = access_token(issuer_key, clock, key.public_key.thumbprint)
    made = sign_proof(key, method="GET", url=f"{API}/t", iat=clock.now().timestamp(), access_token=token)
    binding = Binding(certificate_thumbprint="abc")
    verified = verify_presented(
        f"DPoP {token}", [made], method="GET", url=f"{API}/t", proofs=verifier, tokens=tokens, binding=binding
    )
    assert verified.cnf_jkt == key.public_key.thumbprint


def test_the_challenge() -> None:
    assert dpop_challenge(None, ("EdDSA", "ES256")) == 'DPoP algs="EdDSA ES256"'
    error = InvalidDpopProof('the "proof" is bad', status=401)
    assert dpop_challenge(error, ("ES256",)) == (
        'DPoP error="invalid_dpop_proof", error_description="the \\"proof\\" is bad", algs="ES256"'
    )


# -- server nonces (RFC 9449 §8) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def test_nonces_are_shared_by_the_servers_of_one_key_and_expire(kek: KeyEncryptionKey, clock: FrozenClock) -> None:
    nonces = SealedNonces(lambda: kek, clock, lifetime=60)
    first = nonces.current()
    assert nonces.accepts(first)
    assert SealedNonces(lambda: kek, clock, lifetime=60).accepts(first)  # another server of the estate
    assert not SealedNonces(KeyEncryptionKey.generate, clock, lifetime=60).accepts(first)  # another estate
    clock.advance(timedelta(seconds=29))
    assert nonces.current() == first  # one nonce per half lifetime
    clock.advance(timedelta(seconds=1))
    second = nonces.current()
    assert second != first and nonces.accepts(first) and nonces.accepts(second)
    clock.advance(timedelta(seconds=31))
    assert not nonces.accepts(first) and nonces.accepts(second)
    for bad in ("", "v1.AAAA", "x" * 201, kek.encrypt(b"\0" * 8, context="something else")):
        assert not nonces.accepts(bad)


def test_a_nonce_from_a_clock_far_ahead_is_refused(kek: KeyEncryptionKey, clock: FrozenClock) -> None:
    ahead = FrozenClock(clock.now() + timedelta(seconds=30))
    assert not SealedNonces(lambda: kek, clock).accepts(SealedNonces(lambda: kek, ahead).current())
    slightly = FrozenClock(clock.now() + timedelta(seconds=5))
    assert SealedNonces(lambda: kek, clock).accepts(SealedNonces(lambda: kek, slightly).current())


def test_with_nonces_a_proof_must_carry_a_current_one(
    key: jose.SigningKey, kek: KeyEncryptionKey, clock: FrozenClock
) -> None:
    nonces = SealedNonces(lambda: kek, clock, lifetime=60)
    verifier = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock, nonces=nonces)
    with pytest.raises(UseDpopNonce) as caught:
        verifier.verify([proof(key, clock)], method="POST", url=URL)
    exc = caught.value
    assert (exc.code, exc.status) == ("use_dpop_nonce", 400)
    assert "lacks the server's nonce" in exc.error_description
    given = exc.headers["DPoP-Nonce"]
    assert nonces.accepts(given)
    checked = verifier.verify([proof(key, clock, nonce=given)], method="POST", url=URL)  # the same jti: not used up
    assert checked.jkt == key.public_key.thumbprint

    clock.advance(timedelta(seconds=61))
    with pytest.raises(UseDpopNonce) as caught:
        verifier.verify([proof(key, clock, jti="later", nonce=given)], method="POST", url=URL, status=401)
    assert caught.value.status == 401
    assert "unknown or expired" in caught.value.error_description
    assert caught.value.headers["DPoP-Nonce"] != given
    assert 'error="use_dpop_nonce"' in dpop_challenge(caught.value)


def test_sign_proof_carries_the_nonce(key: jose.SigningKey, kek: KeyEncryptionKey, clock: FrozenClock) -> None:
    nonces = SealedNonces(lambda: kek, clock)
    verifier = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock, nonces=nonces)
    made = sign_proof(key, method="POST", url=URL, iat=clock.now().timestamp(), nonce=nonces.current())
    assert verifier.verify([made], method="POST", url=URL)


@pytest.mark.parametrize("jti", ["nul\x00inside", "lone\ud800surrogate", "j" * 256])
def test_any_json_string_is_a_jti_the_replay_guard_can_keep(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier, jti: str
) -> None:
    token = proof(key, clock, jti=jti)
    assert verifier.verify([token], method="POST", url=URL).jti == jti
    refused(lambda: verifier.verify([token], method="POST", url=URL), "used before (jti)")


def test_a_lone_surrogate_in_ath_is_a_mismatch(
    key: jose.SigningKey, clock: FrozenClock, verifier: DpopVerifier
) -> None:
    token = proof(key, clock, htm="GET", ath="\ud800")
    refused(lambda: verifier.verify([token], method="GET", url=URL, access_token="at-1"), "ath is not the hash")
