"""The verifier under attack: every refusal checked for its OAuth error code, HTTP status and description."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import threading
import timeit
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from remit.clock import FrozenClock
from remit.errors import ConfigurationError, RemitError
from remit.tokens import jose
from remit.tokens.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidDpopProof,
    InvalidGrant,
    InvalidKey,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    InvalidToken,
    TokenError,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
    UseDpopNonce,
)
from remit.tokens.verify import (
    Binding,
    InMemoryReplayGuard,
    KeySet,
    VerifiedCache,
    VerifiedToken,
    VerifyPolicy,
    verify_jwt,
)

ISSUER = "https://remit.example"
API_A = "https://tickets.example"
API_B = "https://billing.example"
AGENT = "spiffe://acme.example/agent/research-bot"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Signer:
    """A signing key held twice: natively (to forge anything) and as the library's ``SigningKey``."""

    native: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key: jose.SigningKey

    def sign(self, signing_input: bytes) -> bytes:
        native = self.native
        if isinstance(native, ed25519.Ed25519PrivateKey):
            return native.sign(signing_input)
        if isinstance(native, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(native.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        from cryptography.hazmat.primitives.asymmetric import padding

        return native.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    @property
    def public_raw(self) -> bytes:
        """The public key's raw bytes, as an attacker would find them in our JWKS."""
        public = self.native.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def make_signer(alg: str, kid: str) -> Signer:
    native: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "EdDSA":
        native = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        native = ec.generate_private_key(ec.SECP256R1())
    else:
        native = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = native.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Signer(native, jose.SigningKey.from_pem(pem, alg=alg, kid=kid))


def forge(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, signer: Signer | None) -> str:
    """A compact JWS with exactly this header and payload, signed natively (or not at all)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}"
    signature = signer.sign(signing_input.encode()) if signer else b""
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def ed() -> Signer:
    return make_signer("EdDSA", "ed-1")


@pytest.fixture(scope="module")
def es() -> Signer:
    return make_signer("ES256", "es-1")


@pytest.fixture(scope="module")
def rs() -> Signer:
    return make_signer("RS256", "rs-1")


@pytest.fixture(scope="module")
def attacker() -> Signer:
    return make_signer("EdDSA", "ed-1")  # same kid as ours, different key


@pytest.fixture
def keys(ed: Signer, es: Signer, rs: Signer) -> KeySet:
    return KeySet([ed.key.public_key, es.key.public_key, rs.key.public_key])


@pytest.fixture
def policy() -> VerifyPolicy:
    return VerifyPolicy.access_token(ISSUER, API_A)


def claims_at(clock: FrozenClock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": AGENT,
        "aud": API_A,
        "client_id": "research-bot",
        "scope": "tickets:read",
        "iat": now,
        "exp": now + 300,
        "jti": "jti-0001",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def mint(signer: Signer, clock: FrozenClock, typ: str = "at+jwt", **changes: Any) -> str:
    return jose.sign_jwt(claims_at(clock, **changes), signer.key, typ=typ)


def refused(
    call: Callable[[], object],
    token: str,
    description: str,
    *,
    error: type[TokenError] = InvalidToken,
    code: str = "invalid_token",
    status: int = 401,
) -> TokenError:
    """The call fails with exactly this OAuth error, and its description never quotes the token."""
    with pytest.raises(TokenError) as caught:
        call()
    exc = caught.value
    assert type(exc) is error
    assert (exc.code, exc.status) == (code, status)
    assert description in exc.error_description
    assert exc.body() == {"error": code, "error_description": exc.error_description}
    for secret in {token, *token.split(".")} - {""}:
        assert secret not in str(exc)
    return exc


# -- the happy path -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_a_valid_token_verifies_with_its_claims(
    alg: str, ed: Signer, es: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    signer = ed if alg == "EdDSA" else es
    token = mint(signer, clock)
    verified = verify_jwt(token, keys, policy, clock.now(), is_revoked=lambda jti: False)
    assert isinstance(verified, VerifiedToken)
    assert (verified.alg, verified.kid, verified.subject, verified.jti) == (alg, signer.key.kid, AGENT, "jti-0001")
    assert verified.claims["scope"] == "tickets:read"
    assert verified.header["typ"] == "at+jwt"
    assert verified.expires_at == clock.now().timestamp() + 300
    assert not verified.bound
    with pytest.raises(TypeError):
        verified.claims["scope"] = "admin"  # type: ignore[index]


def test_an_audience_list_and_an_application_typ_are_accepted(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, typ="application/AT+JWT", aud=[API_B, API_A])
    assert verify_jwt(token, keys, policy, clock.now()).claims["aud"] == [API_B, API_A]


# -- algorithms and key confusion ---------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "NONE", "None", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"\x00" * 64])
def test_alg_none_is_refused(
    alg: str, signature: bytes, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    header = b64(json.dumps({"alg": alg, "kid": "ed-1", "typ": "at+jwt"}).encode())
    token = f"{header}.{b64(json.dumps(claims_at(clock)).encode())}.{b64(signature)}"
    expected = "not signed" if not signature else "algorithm is not allowed"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, expected)


@pytest.mark.parametrize("which", ["ed", "es"])
@pytest.mark.parametrize("secret_form", ["raw-or-pem", "jwk-json", "x-member"])
def test_hs256_keyed_with_our_public_key_is_refused(
    which: str, secret_form: str, ed: Signer, es: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    signer = ed if which == "ed" else es
    jwk = signer.key.public_key.to_jwk()
    secret = {
        "raw-or-pem": signer.public_raw,
        "jwk-json": json.dumps(jwk).encode(),
        "x-member": jwk["x"].encode(),
    }[secret_form]
    header = b64(json.dumps({"alg": "HS256", "kid": signer.key.kid, "typ": "at+jwt"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims_at(clock)).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "algorithm is not allowed")


@pytest.mark.parametrize("alg", ["HS256", "HS512", "none", "ES256K"])
def test_a_policy_cannot_allow_hmac_or_none(alg: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VerifyPolicy.access_token(ISSUER, API_A, algorithms=(alg,))
    assert caught.value.field == "algorithms"


def test_rs256_is_refused_by_the_default_allow_list(
    rs: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(rs, clock)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "algorithm is not allowed")
    widened = VerifyPolicy.access_token(ISSUER, API_A, algorithms=("EdDSA", "RS256"))
    assert verify_jwt(token, keys, widened, clock.now()).alg == "RS256"


def test_an_allowed_alg_that_is_not_the_keys_own_is_refused(
    ed: Signer, es: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    # signed by the EC key, but names the Ed25519 key, and the other way round
    token = forge({"alg": "ES256", "kid": ed.key.kid, "typ": "at+jwt"}, claims_at(clock), es)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "not the key's algorithm")
    token = forge({"alg": "EdDSA", "kid": es.key.kid, "typ": "at+jwt"}, claims_at(clock), ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "not the key's algorithm")


# -- where keys come from -----------------------------------------------------------------------------------


def test_an_embedded_jwk_is_never_trusted(
    attacker: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    # CVE-2018-0114: the attacker signs with its own key and ships it in the header, under our kid
    header = {"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", "jwk": attacker.key.public_key.to_jwk()}
    token = forge(header, claims_at(clock), attacker)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "names its own key")


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("jku", "https://remit.example/.well-known/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBszCCAVmgAwIBAgIU"]),
    ],
)
def test_jku_x5u_and_x5c_headers_are_refused(
    member: str, value: object, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    # refused even when correctly signed by our own key: a token that asks for a key lookup elsewhere is not ours
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", member: value}, claims_at(clock), ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "names its own key")


def test_a_key_signed_by_an_attacker_under_our_kid_does_not_verify(
    attacker: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(attacker, clock)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "signature does not verify")


@pytest.mark.parametrize(
    ("kid", "description"),
    [
        ("ed-2", "signing key is unknown"),
        ("../../../../dev/null", "signing key is unknown"),
        ("' OR 1=1 --", "signing key is unknown"),
        (None, "has no key id"),
        ("", "key id (kid) is not a short non-empty string"),
        (7, "key id (kid) is not a short non-empty string"),
        ("k" * 257, "key id (kid) is not a short non-empty string"),
    ],
)
def test_an_unknown_missing_or_injected_kid_is_refused(
    kid: object, description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "at+jwt"}
    if kid is not None:
        header["kid"] = kid
    token = forge(header, claims_at(clock), ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


# -- time ---------------------------------------------------------------------------------------------------


def test_an_expired_token_is_refused_after_the_leeway(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock)
    clock.advance(timedelta(seconds=300 + 29))
    assert verify_jwt(token, keys, policy, clock.now()).jti == "jti-0001"  # within the 30 s leeway
    clock.advance(timedelta(seconds=1))
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "has expired")


def test_a_token_without_exp_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    token = mint(ed, clock, exp=None)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "lacks the required 'exp' claim")


@pytest.mark.parametrize("value", ["2026-01-01", True, None, [1]])
def test_a_non_numeric_exp_is_refused(
    value: object, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    payload = json.dumps({**claims_at(clock), "exp": value}).encode()
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt"}, payload, ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "'exp' claim is not a number")


#: claim values that are no NumericDate (RFC 7519 §2) Remit accepts: beyond float range, before 1970, after the year
#: 9999, booleans (an int in Python), strings, arrays, objects
HOSTILE_DATES = [
    pytest.param(10**400, id="10**400"),
    pytest.param(-(10**400), id="-10**400"),
    pytest.param(2**64, id="2**64"),
    pytest.param(253402300800, id="year-10000"),
    pytest.param(1e300, id="1e300"),
    pytest.param(-1, id="-1"),
    pytest.param(-0.5, id="-0.5"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param("1767225600", id="string"),
    pytest.param([1767225600], id="array"),
    pytest.param({"$date": 1767225600}, id="object"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", HOSTILE_DATES)
def test_a_date_claim_that_is_no_numeric_date_is_refused(
    name: str, value: object, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt"}, {**claims_at(clock), name: value}, ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, f"'{name}' claim is not a number")
    cache = VerifiedCache(keys, policy, clock)
    refused(lambda: cache.verify(token), token, f"'{name}' claim is not a number")


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", HOSTILE_DATES)
def test_a_client_assertion_date_that_is_no_numeric_date_is_invalid_client(
    name: str, value: object, ed: Signer, keys: KeySet, assertion_policy: VerifyPolicy, clock: FrozenClock
) -> None:
    now = int(clock.now().timestamp())
    claims = {"iss": "research-bot", "sub": "research-bot", "aud": ISSUER, "exp": now + 60, "iat": now, "jti": "a-1"}
    token = forge({"alg": "EdDSA", "kid": "ed-1"}, {**claims, name: value}, ed)
    refused(
        lambda: verify_jwt(token, keys, assertion_policy, clock.now(), replay=InMemoryReplayGuard(clock)),
        token,
        f"'{name}' claim is not a number",
        error=InvalidClient,
        code="invalid_client",
    )


def test_the_last_second_of_the_year_9999_is_a_numeric_date(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, exp=253402300799, nbf=0, iat=0.5)
    assert verify_jwt(token, keys, policy, clock.now()).expires_at == 253402300799.0


def test_a_token_not_valid_yet_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    now = int(clock.now().timestamp())
    assert verify_jwt(mint(ed, clock, nbf=now + 30), keys, policy, clock.now()).not_before == now + 30
    token = mint(ed, clock, nbf=now + 31)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "not valid yet")


def test_a_token_issued_in_the_future_is_refused(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    now = int(clock.now().timestamp())
    verify_jwt(mint(ed, clock, iat=now + 30), keys, policy, clock.now())
    token = mint(ed, clock, iat=now + 31)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "issued in the future")


def test_a_lifetime_over_the_cap_is_refused(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    capped = VerifyPolicy.access_token(ISSUER, API_A, max_lifetime=600)
    now = int(clock.now().timestamp())
    verify_jwt(mint(ed, clock, exp=now + 600), keys, capped, clock.now())
    token = mint(ed, clock, exp=now + 601)
    refused(lambda: verify_jwt(token, keys, capped, clock.now()), token, "lifetime exceeds 600 seconds")


# -- who issued it, and for whom ----------------------------------------------------------------------------


def test_a_wrong_issuer_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    token = mint(ed, clock, iss="https://remit.example.attacker.example")
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "issued by another issuer")


@pytest.mark.parametrize("aud", [API_B, [API_B], "https://tickets.example/", "HTTPS://TICKETS.EXAMPLE"])
def test_a_wrong_audience_is_refused(
    aud: object, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, aud=aud)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "not meant for this audience")


@pytest.mark.parametrize("aud", [[], [API_A, 7], {"aud": API_A}, 7])
def test_a_malformed_audience_is_refused(
    aud: object, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, aud=aud)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "'aud' claim is not a string")


def test_a_token_for_audience_a_is_refused_at_b(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    at_a = VerifyPolicy.access_token(ISSUER, API_A)
    at_b = VerifyPolicy.access_token(ISSUER, API_B)
    token = mint(ed, clock, aud=API_A)
    verify_jwt(token, keys, at_a, clock.now())
    refused(lambda: verify_jwt(token, keys, at_b, clock.now()), token, "not meant for this audience")
    cache_b = VerifiedCache(keys, at_b, clock)
    refused(lambda: cache_b.verify(token), token, "not meant for this audience")


@pytest.mark.parametrize(
    ("typ", "description"),
    [(None, "has no type"), ("JWT", "type (typ) is not accepted"), ("dpop+jwt", "type (typ) is not accepted")],
)
def test_a_token_of_another_type_is_refused(
    typ: str | None, description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = jose.sign_compact(json.dumps(claims_at(clock)).encode(), ed.key, typ=typ)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "iat", "jti", "client_id"])
def test_every_rfc_9068_claim_is_required(
    claim: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    missing: dict[str, Any] = {claim: None}
    token = mint(ed, clock, **missing)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, f"lacks the required '{claim}' claim")


# -- tampering and structure --------------------------------------------------------------------------------


def test_a_tampered_payload_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    header, _, signature = mint(ed, clock).split(".")
    payload = b64(json.dumps(claims_at(clock, scope="tickets:read tickets:admin")).encode())
    token = f"{header}.{payload}.{signature}"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "signature does not verify")


def test_a_tampered_header_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    _, payload, signature = mint(ed, clock).split(".")
    header = b64(json.dumps({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", "cty": "x"}).encode())
    token = f"{header}.{payload}.{signature}"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "signature does not verify")


@pytest.mark.parametrize("bit", [0, 7, 255, 511])
def test_a_flipped_signature_bit_is_refused(
    bit: int, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    header, payload, signature = mint(ed, clock).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[bit // 8] ^= 1 << (bit % 8)
    token = f"{header}.{payload}.{b64(bytes(raw))}"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "signature does not verify")


@pytest.mark.parametrize(
    ("shape", "description"),
    [
        ("{h}.{p}.", "not signed"),
        ("{h}.{p}", "three dot-separated parts"),
        ("{h}.{p}.{s}.", "three dot-separated parts"),
        ("{h}.{p}.{s}.{s}", "three dot-separated parts"),
        ("{h}.{p}.{s}.{s}.{s}", "encrypted tokens (JWE) are not accepted"),
        ("{h}..{s}", "signature does not verify"),
        (".{p}.{s}", "has no header"),
        ("{h}.{p}.{s}=", "signature is not valid base64url"),
        ("{h}.{p}=.{s}", "payload is not valid base64url"),
        ("{h}.{p}.{s}\u00e9", "non-ASCII"),
        ("", "token is empty"),
    ],
)
def test_a_malformed_structure_is_refused(
    shape: str, description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    h, p, s = mint(ed, clock).split(".")
    token = shape.format(h=h, p=p, s=s)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


@pytest.mark.parametrize(
    ("payload", "description"),
    [
        (b"", "claims set is not valid JSON"),
        (b"not json", "claims set is not valid JSON"),
        (b"\xff\xfe", "claims set is not valid JSON"),
        (b"[1, 2]", "claims set is not a JSON object"),
        (b'{"sub": "a", "sub": "b"}', "claims set is not valid JSON"),
        (b"[" * 3000 + b"]" * 3000, "claims set is not valid JSON"),
        (b'{"exp": NaN}', "claims set is not valid JSON"),
        (b'{"exp": Infinity}', "claims set is not valid JSON"),
        (b'{"exp": -Infinity}', "claims set is not valid JSON"),
        (b'{"x": {"y": [1e400]}}', "claims set is not valid JSON"),
        (b'{"exp": 1' + b"0" * 5000 + b"}", "claims set is not valid JSON"),
    ],
)
def test_a_payload_that_is_not_a_claims_set_is_refused(
    payload: bytes, description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt"}, payload, ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        ({"crit": ["exp"], "exp": 1}, "critical header extensions (crit) are not supported"),
        ({"crit": ["b64"], "b64": False}, "critical header extensions (crit) are not supported"),
        ({"b64": False}, "unencoded payloads (b64, RFC 7797) are not accepted"),
        ({"b64": True}, "unencoded payloads (b64, RFC 7797) are not accepted"),
        ({"typ": 1}, "type (typ) is not a string"),
    ],
)
def test_unsupported_header_members_are_refused(
    extra: dict[str, Any], description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", **extra}, claims_at(clock), ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


def test_a_header_with_duplicate_members_is_refused(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    header = b64(b'{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt","alg":"none"}')
    payload = b64(json.dumps(claims_at(clock)).encode())
    token = f"{header}.{payload}.{b64(ed.sign(f'{header}.{payload}'.encode()))}"
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "header is not valid JSON")


def test_an_oversized_token_is_refused_before_decoding(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, padding="x" * 8192)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "larger than 8192 bytes")
    cache = VerifiedCache(keys, policy, clock)
    refused(lambda: cache.verify(token), token, "larger than 8192 bytes")
    assert len(cache) == 0


def test_an_oversized_header_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    token = forge({"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", "x": "y" * 1100}, claims_at(clock), ed)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "header is larger than 1024 bytes")


# -- revocation, replay and sender binding ------------------------------------------------------------------


def test_a_revoked_token_is_refused(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    token = mint(ed, clock)
    revoked = {"jti-0001"}
    refused(
        lambda: verify_jwt(token, keys, policy, clock.now(), is_revoked=revoked.__contains__), token, "been revoked"
    )


def test_revocation_cannot_be_checked_without_a_jti(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    lax = VerifyPolicy.access_token(ISSUER, API_A, required_claims=("iss", "aud", "exp"))
    token = mint(ed, clock, jti=None)
    verify_jwt(token, keys, lax, clock.now())
    refused(lambda: verify_jwt(token, keys, lax, clock.now(), is_revoked=set[str]().__contains__), token, "no 'jti'")


def cert_bound(ed: Signer, clock: FrozenClock, der: bytes) -> str:
    return mint(ed, clock, cnf={"x5t#S256": jose.certificate_thumbprint(der)})


def test_a_certificate_bound_token_needs_its_certificate(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = cert_bound(ed, clock, b"agent certificate DER")
    right = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"agent certificate DER"))
    wrong = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"another certificate DER"))
    verified = verify_jwt(token, keys, policy, clock.now(), binding=right)
    assert verified.bound
    assert verified.cnf_x5t_s256 == right.certificate_thumbprint
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "none was presented")
    refused(lambda: verify_jwt(token, keys, policy, clock.now(), binding=wrong), token, "another client certificate")
    dpop_only = Binding(dpop_jkt=right.certificate_thumbprint)
    refused(lambda: verify_jwt(token, keys, policy, clock.now(), binding=dpop_only), token, "none was presented")


def test_a_dpop_bound_token_needs_its_key(
    ed: Signer, attacker: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    jkt = attacker.key.public_key.thumbprint  # the agent's DPoP key
    token = mint(ed, clock, cnf={"jkt": jkt})
    assert verify_jwt(token, keys, policy, clock.now(), binding=Binding(dpop_jkt=jkt)).cnf_jkt == jkt
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, "no DPoP proof was presented")
    other = Binding(dpop_jkt=ed.key.public_key.thumbprint)
    refused(lambda: verify_jwt(token, keys, policy, clock.now(), binding=other), token, "another DPoP key")


@pytest.mark.parametrize(
    ("cnf", "description"),
    [
        ({"jwk": {"kty": "OKP"}}, "confirmation method (cnf) is not supported"),
        ({"x5t#S256": "abc", "kid": "k"}, "confirmation method (cnf) is not supported"),
        ({}, "'cnf' claim is not a JSON object"),
        ("x5t#S256", "'cnf' claim is not a JSON object"),
        ({"jkt": ""}, "not a non-empty string"),
    ],
)
def test_an_unknown_or_malformed_cnf_is_refused(
    cnf: object, description: str, ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    token = mint(ed, clock, cnf=cnf)
    refused(lambda: verify_jwt(token, keys, policy, clock.now()), token, description)


def test_an_audience_can_require_sender_constrained_tokens(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    strict = VerifyPolicy.access_token(ISSUER, API_A, require_binding=True)
    token = mint(ed, clock)
    refused(lambda: verify_jwt(token, keys, strict, clock.now()), token, "not sender-constrained")


# -- client assertions (RFC 7523) ---------------------------------------------------------------------------


@pytest.fixture
def assertion_policy() -> VerifyPolicy:
    return VerifyPolicy.client_assertion("research-bot", ISSUER)


def assertion(signer: Signer, clock: FrozenClock, typ: str | None = None, **changes: Any) -> str:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {"iss": "research-bot", "sub": "research-bot", "aud": ISSUER, "exp": now + 60}
    claims |= {"jti": "a-1", "iat": now, **changes}
    return jose.sign_compact(
        json.dumps({k: v for k, v in claims.items() if v is not None}).encode(), signer.key, typ=typ
    )


def test_a_replayed_client_assertion_is_refused(
    ed: Signer, keys: KeySet, assertion_policy: VerifyPolicy, clock: FrozenClock
) -> None:
    guard = InMemoryReplayGuard(clock)
    token = assertion(ed, clock)
    assert verify_jwt(token, keys, assertion_policy, clock.now(), replay=guard).subject == "research-bot"
    exc = refused(
        lambda: verify_jwt(token, keys, assertion_policy, clock.now(), replay=guard),
        token,
        "used before",
        error=InvalidClient,
        code="invalid_client",
    )
    assert exc.status == 401
    # a fresh jti from the same client is fine
    verify_jwt(assertion(ed, clock, jti="a-2"), keys, assertion_policy, clock.now(), replay=guard)


@pytest.mark.parametrize(
    ("changes", "typ", "description"),
    [
        ({"sub": "other-bot"}, None, "subject does not match"),
        ({"iss": "other-bot"}, None, "issued by another issuer"),
        ({"aud": API_A}, None, "not meant for this audience"),
        ({"exp": "soon"}, None, "'exp' claim is not a number"),
        ({"jti": None}, None, "lacks the required 'jti' claim"),
        ({}, "at+jwt", "type (typ) is not accepted"),
    ],
)
def test_a_bad_client_assertion_is_invalid_client(
    changes: dict[str, Any],
    typ: str | None,
    description: str,
    ed: Signer,
    keys: KeySet,
    assertion_policy: VerifyPolicy,
    clock: FrozenClock,
) -> None:
    token = assertion(ed, clock, typ=typ, **changes)
    refused(
        lambda: verify_jwt(token, keys, assertion_policy, clock.now()),
        token,
        description,
        error=InvalidClient,
        code="invalid_client",
    )


def test_a_long_lived_client_assertion_is_refused(
    ed: Signer, keys: KeySet, assertion_policy: VerifyPolicy, clock: FrozenClock
) -> None:
    now = int(clock.now().timestamp())
    verify_jwt(assertion(ed, clock, typ="JWT", exp=now + 300), keys, assertion_policy, clock.now())
    token = assertion(ed, clock, exp=now + 3600, iat=None)
    refused(
        lambda: verify_jwt(token, keys, assertion_policy, clock.now()),
        token,
        "lifetime exceeds 300 seconds",
        error=InvalidClient,
        code="invalid_client",
    )


def test_a_replayed_assertion_without_jti_is_refused(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    lax = VerifyPolicy.client_assertion("research-bot", ISSUER, required_claims=("iss", "sub", "aud", "exp"))
    token = assertion(ed, clock, jti=None)
    refused(
        lambda: verify_jwt(token, keys, lax, clock.now(), replay=InMemoryReplayGuard(clock)),
        token,
        "a replay cannot be detected",
        error=InvalidClient,
        code="invalid_client",
    )


def test_the_failure_class_follows_the_context(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    grant = VerifyPolicy.access_token(ISSUER, API_A, failure=InvalidGrant)
    token = mint(ed, clock, aud=API_B)
    refused(
        lambda: verify_jwt(token, keys, grant, clock.now()),
        token,
        "not meant for this audience",
        error=InvalidGrant,
        code="invalid_grant",
        status=400,
    )


def test_the_replay_guard_forgets_expired_pairs_and_fails_closed_when_full(clock: FrozenClock) -> None:
    guard = InMemoryReplayGuard(clock, capacity=2)
    soon = clock.now().timestamp() + 10
    assert guard.first_use("a", "1", soon)
    assert not guard.first_use("a", "1", soon)
    assert guard.first_use("b", "1", soon)  # per issuer
    assert not guard.first_use("c", "1", soon)  # full of live pairs: refuse rather than forget one
    clock.advance(timedelta(seconds=11))
    assert guard.first_use("c", "1", soon + 60)
    assert guard.first_use("a", "1", soon + 60)  # expired, so forgotten; its exp has passed anyway


# -- the cache ----------------------------------------------------------------------------------------------


def test_a_cache_hit_returns_the_verified_token(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    cache = VerifiedCache(keys, policy, clock)
    token = mint(ed, clock)
    first = cache.verify(token)
    assert cache.verify(token) is first
    assert len(cache) == 1


def test_a_cache_hit_after_revocation_is_refused(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    revoked: set[str] = set()
    cache = VerifiedCache(keys, policy, clock, is_revoked=revoked.__contains__)
    token = mint(ed, clock)
    cache.verify(token)
    revoked.add("jti-0001")
    refused(lambda: cache.verify(token), token, "been revoked")
    assert len(cache) == 0
    refused(lambda: cache.verify(token), token, "been revoked")


def test_a_cache_hit_after_expiry_is_refused(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    cache = VerifiedCache(keys, policy, clock)
    token = mint(ed, clock)
    cache.verify(token)
    clock.advance(timedelta(seconds=329))
    cache.verify(token)
    clock.advance(timedelta(seconds=1))
    refused(lambda: cache.verify(token), token, "has expired")
    assert len(cache) == 0


def test_a_cache_hit_rechecks_nbf_when_the_clock_goes_back(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    cache = VerifiedCache(keys, policy, clock)
    token = mint(ed, clock, nbf=int(clock.now().timestamp()))
    cache.verify(token)
    clock.advance(timedelta(seconds=-31))
    refused(lambda: cache.verify(token), token, "not valid yet")


def test_a_cache_hit_rechecks_the_binding(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    cache = VerifiedCache(keys, policy, clock)
    token = cert_bound(ed, clock, b"agent certificate DER")
    right = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"agent certificate DER"))
    cache.verify(token, right)
    refused(lambda: cache.verify(token), token, "none was presented")
    wrong = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"stolen elsewhere"))
    refused(lambda: cache.verify(token, wrong), token, "another client certificate")
    assert cache.verify(token, right).bound  # the holder still gets in


def test_a_refused_token_is_not_cached(ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    cache = VerifiedCache(keys, policy, clock)
    token = mint(ed, clock, aud=API_B)
    refused(lambda: cache.verify(token), token, "not meant for this audience")
    assert len(cache) == 0


def test_clearing_the_cache_after_a_key_leaves(ed: Signer, policy: VerifyPolicy, clock: FrozenClock) -> None:
    class Rotating:
        def __init__(self) -> None:
            self.keys = {ed.key.kid: ed.key.public_key}

        def find(self, kid: str) -> jose.PublicKey | None:
            return self.keys.get(kid)

    lookup = Rotating()
    cache = VerifiedCache(lookup, policy, clock)
    token = mint(ed, clock)
    cache.verify(token)
    del lookup.keys[ed.key.kid]
    cache.clear()
    refused(lambda: cache.verify(token), token, "signing key is unknown")


def test_the_cache_forgets_every_token_when_the_lookups_generation_changes(
    ed: Signer, es: Signer, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    class Versioned:
        def __init__(self) -> None:
            self.keys = {ed.key.kid: ed.key.public_key, es.key.kid: es.key.public_key}
            self.asked = 0

        def find(self, kid: str) -> jose.PublicKey | None:
            return self.keys.get(kid)

        def generation(self) -> object:
            self.asked += 1
            return frozenset(self.keys)

    lookup = Versioned()
    cache = VerifiedCache(lookup, policy, clock)
    assert lookup.asked == 0  # nothing is asked before the first token
    revoked_key, kept = mint(ed, clock, jti="by-ed"), mint(es, clock, jti="by-es")
    first = cache.verify(revoked_key)
    cache.verify(kept)
    assert cache.verify(revoked_key) is first and len(cache) == 2
    del lookup.keys[ed.key.kid]  # no clear(): the generation tells
    refused(lambda: cache.verify(revoked_key), revoked_key, "signing key is unknown")
    assert len(cache) == 0
    again = cache.verify(kept)  # verified afresh with the keys that remain
    assert cache.verify(kept) is again and len(cache) == 1


def test_the_cache_stays_within_its_capacity_and_keeps_hot_tokens(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    cache = VerifiedCache(keys, policy, clock, capacity=8)
    hot = mint(ed, clock, jti="hot")
    hot_token = cache.verify(hot)
    for n in range(40):
        cache.verify(mint(ed, clock, jti=f"cold-{n}"))
        assert cache.verify(hot) is hot_token  # referenced between inserts: always gets its second chance
        assert len(cache) <= 8
    assert len(cache) == 8


def test_the_cache_refuses_a_zero_capacity(keys: KeySet, policy: VerifyPolicy, clock: FrozenClock) -> None:
    with pytest.raises(ConfigurationError):
        VerifiedCache(keys, policy, clock, capacity=0)


def test_the_cache_is_safe_under_many_threads(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    cache = VerifiedCache(keys, policy, clock, capacity=16)
    tokens = [mint(ed, clock, jti=f"t-{n}") for n in range(48)]
    start = threading.Barrier(8)

    def worker(offset: int) -> list[str | None]:
        start.wait()
        return [cache.verify(tokens[(offset + n) % len(tokens)]).jti for n in range(400)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    for offset, jtis in enumerate(results):
        assert jtis == [f"t-{(offset + n) % len(tokens)}" for n in range(400)]
    assert len(cache) <= 16


def test_a_cache_hit_costs_at_most_ten_microseconds(
    ed: Signer, keys: KeySet, policy: VerifyPolicy, clock: FrozenClock
) -> None:
    revoked: set[str] = set()
    cache = VerifiedCache(keys, policy, clock, is_revoked=revoked.__contains__)
    token = cert_bound(ed, clock, b"agent certificate DER")
    binding = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"agent certificate DER"))
    cache.verify(token, binding)
    runs = [t / 2000 for t in timeit.repeat(lambda: cache.verify(token, binding), number=2000, repeat=9)]
    assert statistics.median(runs) <= 10e-6, f"cache hit median {statistics.median(runs) * 1e6:.1f} µs"


# -- policy construction ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"audience": ()}, "audience"),
        ({"audience": ""}, "audience"),
        ({"issuer": ""}, "audience"),
        ({"algorithms": ()}, "algorithms"),
        ({"leeway": -1}, "leeway"),
        ({"leeway": 3600}, "leeway"),
        ({"max_lifetime": 0}, "max_lifetime"),
        ({"required_claims": ("iss",)}, "required_claims"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VerifyPolicy(**{"issuer": ISSUER, "audience": API_A, **options})
    assert caught.value.field == field


def test_a_keyset_refuses_duplicate_kids(ed: Signer) -> None:
    with pytest.raises(ConfigurationError):
        KeySet([ed.key.public_key, ed.key.public_key])


def test_a_keyset_reads_a_jwks(ed: Signer, es: Signer) -> None:
    document = json.dumps(jose.export_jwks([ed.key.public_key, es.key.public_key]))
    keys = KeySet.from_jwks(document)
    found = keys.find("es-1")
    assert found is not None
    assert (found.alg, found.thumbprint) == ("ES256", es.key.public_key.thumbprint)
    assert keys.find("nope") is None


# -- the errors ---------------------------------------------------------------------------------------------


ERRORS: list[tuple[type[TokenError], str, int]] = [
    (InvalidRequest, "invalid_request", 400),
    (InvalidClient, "invalid_client", 401),
    (InvalidGrant, "invalid_grant", 400),
    (UnauthorizedClient, "unauthorized_client", 400),
    (UnsupportedGrantType, "unsupported_grant_type", 400),
    (InvalidScope, "invalid_scope", 400),
    (InvalidTarget, "invalid_target", 400),
    (UnsupportedTokenType, "unsupported_token_type", 400),
    (InvalidToken, "invalid_token", 401),
    (InsufficientScope, "insufficient_scope", 403),
    (InvalidDpopProof, "invalid_dpop_proof", 400),
    (UseDpopNonce, "use_dpop_nonce", 400),
]


@pytest.mark.parametrize(("error", "code", "status"), ERRORS)
def test_each_oauth_error_has_its_rfc_code_and_status(error: type[TokenError], code: str, status: int) -> None:
    exc = error()
    assert isinstance(exc, RemitError)
    assert (exc.code, exc.error, exc.status) == (code, code, status)
    assert exc.body() == {"error": code, "error_description": error.default_message}
    described = error("the audience is unknown")
    assert described.error_description == "the audience is unknown"
    assert str(described) == f"{code}: the audience is unknown"


def test_a_dpop_proof_error_at_a_resource_server_is_a_401() -> None:
    assert InvalidDpopProof(status=401).status == 401
    assert InvalidDpopProof().status == 400


def test_an_invalid_key_is_a_validation_error() -> None:
    exc = InvalidKey("symmetric keys are not accepted", field="jwk")
    assert (exc.code, exc.field) == ("invalid_key", "jwk")


def test_descriptions_never_quote_the_token_or_its_claims(ed: Signer, keys: KeySet, clock: FrozenClock) -> None:
    wrong = VerifyPolicy.access_token(ISSUER, API_B)
    for n in range(3):
        token = mint(ed, clock, jti=f"m-{n}")
        exc = refused(partial(verify_jwt, token, keys, wrong, clock.now()), token, "audience")
        for value in (f"m-{n}", ISSUER, API_A, AGENT, "research-bot"):
            assert value not in str(exc)
