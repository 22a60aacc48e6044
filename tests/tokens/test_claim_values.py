"""Every claim of every token and proof Remit verifies, given any JSON value (property-based, with hypothesis).

Each token is signed with a key its verifier trusts, so that the signature passes and the claims check is what is
exercised. One claim at a time is left out or replaced by a generated value: null, booleans (an int in Python),
integers of any size (``10**400`` included), floats (NaN and the infinities included: ``json.dumps`` writes them as
``NaN`` and ``Infinity``), strings, arrays and objects, nested; numbers near the clock; and the values the rules
expect. The properties:

* the verifier never raises anything but its OAuth error, with the code and status of its context;
* it accepts a token only when the value is one the rules allow, stated here independently of the code (for the
  date claims, exactly: it also accepts every such value).

The tokens: client assertions (RFC 7523, ``invalid_client``), Remit's access tokens at a resource server
(``verify_jwt`` and ``VerifiedCache``, ``invalid_token``), DPoP proofs (RFC 9449) at the token endpoint
(``invalid_dpop_proof``, 400; with server nonces, ``use_dpop_nonce``) and through ``verify_presented`` at a
resource server (401), their headers; then, wired as in production: the token endpoint, introspection, revocation
by the client and by an admin, and token exchange (RFC 8693: subject and actor tokens, Remit's own, an agent's
assertion and a trusted issuer's, ``invalid_request``).

Examples are few and fixed (``derandomize``): seconds per property, the same cases on every run.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import NotFound, ValidationError
from remit.registry import AgentDraft, ResourceDraft, ResourceKind, UserDraft
from remit.settings import Settings, load_settings
from remit.tokens import jose
from remit.tokens.dpop import DpopVerifier, access_token_hash, normalise_htu, verify_presented
from remit.tokens.dpopnonce import SealedNonces
from remit.tokens.endpoint import ASSERTION_TYPE, sign_claims
from remit.tokens.errors import TokenError
from remit.tokens.exchange import ACCESS_TOKEN_TYPE, GRANT_TYPE, JWT_TOKEN_TYPE
from remit.tokens.kek import KeyEncryptionKey
from remit.tokens.verify import InMemoryReplayGuard, KeySet, VerifiedCache, VerifyPolicy, verify_jwt

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
NOW: Final = int(FrozenClock().now().timestamp())
#: the last second of the year 9999: the largest NumericDate accepted
MAX_DATE: Final = 253_402_300_799
ISSUER = "https://remit.example"
API = "https://tickets.example"
IDP = "https://login.example.org"
IDP_KEY = jose.SigningKey.generate("ES256", kid="idp-1")

#: a claim left out of the token
ABSENT: Final = object()

_ids = itertools.count()


def unique(prefix: str) -> str:
    """A ``jti`` no other example uses: a replay is not what these properties look at."""
    return f"{prefix}-{next(_ids)}"


# -- values ---------------------------------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and both infinities included
    st.text(max_size=12),
)
#: any JSON value Python's json writes: nested arrays and objects of the leaves
json_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
#: numbers at and around the edges of the NumericDate range, of float range and of 64-bit integers
edge_numbers = st.sampled_from(
    [
        *(0, -0.0, 0.5, -1, -0.5, MAX_DATE, MAX_DATE + 1, MAX_DATE + 0.5),
        *(2**53 + 1, 2**63, 2**64, 10**400, -(10**400), 1e308, -1e308, 5e-324, True, False),
    ]
)


def values(expected: Sequence[object] = ()) -> st.SearchStrategy[object]:
    """What a claim is replaced by: absent, an edge number, a number near the clock, any JSON value, or one of the
    values the rules expect (so that acceptance is exercised too)."""
    near = st.one_of(st.integers(NOW - 400, NOW + 400), st.floats(NOW - 400.0, NOW + 400.0))
    choices = [st.just(ABSENT), edge_numbers, near, json_values]
    if expected:
        choices.append(st.sampled_from(list(expected)))
    return st.one_of(*choices)


def claim_and_value(claims: Mapping[str, Sequence[object]]) -> st.SearchStrategy[tuple[str, object]]:
    """One claim name of ``claims`` and a value for it (``claims`` maps each name to the values it expects)."""
    return st.sampled_from(sorted(claims)).flatmap(lambda name: st.tuples(st.just(name), values(claims[name])))


def examples(count: int) -> Callable[[Any], Any]:
    """Few examples, the same on every run."""
    return hypothesis_settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# -- the rules, stated independently of the code ----------------------------------------------------------------


def finite(value: object) -> bool:
    """No NaN or infinity anywhere in the value: those are not JSON (RFC 8259 §6), so the whole token is refused."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite(v) for v in value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    return True


def date(value: object) -> float | None:
    """The seconds of a NumericDate (RFC 7519 §2) as Remit accepts one: a JSON number (no boolean), from 1970 to the
    year 9999; None for any other value."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DATE:
        return None
    return float(value)


def text(value: object, max_chars: int = 10**6) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_chars


def audience(value: object, accepted: Collection[str]) -> bool:
    """RFC 7519 §4.1.3: a string or a non-empty array of strings, one of which names the verifier."""
    if isinstance(value, str):
        return value in accepted
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, str) for v in value)
        and any(v in accepted for v in value)
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def with_claim(base: Mapping[str, Any], name: str, value: object) -> dict[str, Any]:
    return {k: v for k, v in {**base, name: value}.items() if v is not ABSENT}


def outcome(call: Callable[[], object], codes: Collection[str], status: int | None = None) -> bool:
    """True when ``call`` accepts; False when it refuses with one of ``codes`` (and ``status``). Anything else it
    raises fails the test."""
    try:
        call()
    except TokenError as exc:
        assert exc.code in codes, exc
        assert status is None or exc.status == status, exc
        return False
    return True


def check(accepted: bool, expected: bool | None, name: str, value: object) -> None:
    """``expected`` None: the rules here do not settle it (any OAuth answer will do)."""
    if expected is not None:
        assert accepted is expected, f"{name}={value!r}: {'accepted' if accepted else 'refused'}"


# -- client assertions (RFC 7523 §3) ---------------------------------------------------------------------------

CLIENT = "helpdesk"
TOKEN_ENDPOINT = f"{ISSUER}/oauth/token"
ASSERTION_CLAIMS: dict[str, Sequence[object]] = {
    "iss": [CLIENT, "other"],
    "sub": [CLIENT],
    "aud": [TOKEN_ENDPOINT, ISSUER, [API, TOKEN_ENDPOINT], []],
    "exp": [NOW + 60, NOW + 300, NOW + 301, NOW - 31],
    "nbf": [NOW, NOW + 31],
    "iat": [NOW, NOW - 240, NOW - 241, NOW + 31],
    "jti": ["j", ""],
    "ext": [],
}


def assertion_claims(now: float) -> dict[str, Any]:
    return {"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_ENDPOINT, "iat": now, "exp": now + 60, "jti": unique("a")}


def assertion_rule(name: str, value: object, now: float, base: Mapping[str, Any]) -> bool:
    """What ``VerifyPolicy.client_assertion`` accepts: iss = sub = the client, aud names the token endpoint or the
    issuer, a jti, exp within 30 s of leeway and at most 300 s after iat (or now), nbf and iat no more than 30 s
    ahead."""
    if value is ABSENT:
        return name in ("nbf", "iat", "ext")
    if not finite(value):
        return False
    seconds = date(value)
    if name in ("iss", "sub"):
        return value == CLIENT
    if name == "aud":
        return audience(value, (TOKEN_ENDPOINT, ISSUER))
    if name == "jti":
        return text(value)
    if name == "exp":
        return seconds is not None and now < seconds + 30 and seconds - base["iat"] <= 300
    if name == "iat":
        return seconds is not None and seconds <= now + 30 and base["exp"] - seconds <= 300
    if name == "nbf":
        return seconds is not None and now + 30 >= seconds
    return name == "ext"


@given(case=claim_and_value(ASSERTION_CLAIMS))
@example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
@examples(400)
def test_client_assertions(case: tuple[str, object]) -> None:
    name, value = case
    clock = FrozenClock()
    key = jose.SigningKey.generate("EdDSA", kid="k1")
    base = assertion_claims(NOW)
    claims = with_claim(base, name, value)
    token = jose.sign_compact(json.dumps(claims).encode(), key, typ="JWT")
    policy = VerifyPolicy.client_assertion(CLIENT, (TOKEN_ENDPOINT, ISSUER))

    def verify() -> object:
        return verify_jwt(token, KeySet([key.public_key]), policy, clock.now(), replay=InMemoryReplayGuard(clock))

    accepted = outcome(verify, {"invalid_client"}, 401)
    check(accepted, assertion_rule(name, value, NOW, base), name, value)


# -- access tokens at a resource server (RFC 9068) -------------------------------------------------------------

ACCESS_CLAIMS: dict[str, Sequence[object]] = {
    "iss": [ISSUER, ISSUER + "/"],
    "sub": ["helpdesk", ""],
    "aud": [API, [API, ISSUER], [ISSUER]],
    "exp": [NOW + 300, NOW - 30, NOW - 29, MAX_DATE],
    "nbf": [NOW, NOW + 30, NOW + 31, 0],
    "iat": [NOW, NOW + 30, NOW + 31, 0],
    "jti": ["at-1"],
    "client_id": ["helpdesk"],
    "scope": ["read:x"],
    "cnf": [{"jkt": "abc"}, {}],
    "act": [{"sub": "planner"}],
    "sub_type": ["agent", "user"],
    "ext": [],
}


def access_claims(now: float, issuer: str = ISSUER, audience: str = API) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": "helpdesk",
        "aud": audience,
        "client_id": "helpdesk",
        "scope": "read:x",
        "iat": now,
        "exp": now + 300,
        "jti": unique("at"),
    }


def access_rule(name: str, value: object, now: float, *, issuer: str = ISSUER, aud: str = API) -> bool:
    """What ``VerifyPolicy.access_token`` accepts with no sender binding presented: RFC 9068 §2.2's claims, exp
    within 30 s of leeway, nbf and iat no more than 30 s ahead, and no ``cnf`` (a bound token needs its proof)."""
    if value is ABSENT:
        return name in ("nbf", "scope", "cnf", "act", "sub_type", "ext")
    if not finite(value):
        return False
    if name == "iss":
        return value == issuer
    if name == "aud":
        return audience(value, (aud,))
    if name in ("sub", "jti", "client_id"):
        return text(value)
    if name in ("exp", "nbf", "iat"):
        return dates_rule(name, value, now)
    return name != "cnf"  # scope, act, sub_type and the rest are not the verifier's to judge


def dates_rule(name: str, value: object, now: float, leeway: int = 30) -> bool:
    """RFC 7519 §4.1.4 and §4.1.5 with a leeway: exp not passed, nbf reached, iat not in the future."""
    seconds = date(value)
    if seconds is None:
        return False
    if name == "exp":
        return now < seconds + leeway
    return seconds <= now + leeway


@given(case=claim_and_value(ACCESS_CLAIMS))
@example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
@examples(400)
def test_access_tokens(case: tuple[str, object]) -> None:
    name, value = case
    clock = FrozenClock()
    key = jose.SigningKey.generate("EdDSA", kid="k1")
    token = jose.sign_jwt(with_claim(access_claims(NOW), name, value), key, typ="at+jwt")
    keys, policy = KeySet([key.public_key]), VerifyPolicy.access_token(ISSUER, API)
    accepted = outcome(lambda: verify_jwt(token, keys, policy, clock.now()), {"invalid_token"}, 401)
    check(accepted, access_rule(name, value, NOW), name, value)
    cache = VerifiedCache(keys, policy, clock)
    for _ in range(2):  # verified in full, then from the cache: the same answer
        assert outcome(lambda: cache.verify(token), {"invalid_token"}, 401) is accepted


# -- DPoP proofs (RFC 9449 §4.3) -------------------------------------------------------------------------------

PROOF_URL = "https://remit.example/oauth/token"
PROOF_CLAIMS: dict[str, Sequence[object]] = {
    "jti": ["p", "j" * 256, "j" * 257],
    "htm": ["POST", "post", "GET"],
    "htu": [PROOF_URL, "HTTPS://REMIT.example:443/oauth/token?x#y", "https://remit.example/oauth/revoke", ""],
    "iat": [NOW, NOW - 60, NOW - 61, NOW + 5, NOW + 6],
    "ath": [],
    "nonce": ["n"],
    "ext": [],
}


def proof_claims(now: float, **extra: Any) -> dict[str, Any]:
    return {"jti": unique("p"), "htm": "POST", "htu": PROOF_URL, "iat": now, **extra}


def proof_rule(
    name: str, value: object, now: float, *, ath: str | None = None, url: str = PROOF_URL, method: str = "POST"
) -> bool:
    """RFC 9449 §4.3: a jti of at most 256 characters, htm the method, htu the URI (normalised), iat at most 60 s
    old and 5 s ahead; at a resource, ath the token's hash."""
    if value is ABSENT:
        return name in ("nonce", "ext") or (name == "ath" and ath is None)
    if not finite(value):
        return False
    if name == "jti":
        return text(value, 256)
    if name == "htm":
        return value == method
    if name == "htu":
        return text(value, 2048) and normalise_htu(str(value)) == normalise_htu(url)
    if name == "iat":
        seconds = date(value)
        return seconds is not None and not seconds > now + 5 and not now - seconds > 60
    if name == "ath":
        return ath is None or value == ath
    return True  # nonce (no nonces asked for), and the rest


def sign_proof_with(key: jose.SigningKey, claims: Mapping[str, Any]) -> str:
    """A proof of exactly these claims (``sign_proof`` makes valid ones only), its public key in ``jwk``."""
    jwk = {k: v for k, v in key.public_key.to_jwk().items() if k not in ("kid", "alg", "use")}
    return jose.sign_compact(
        json.dumps(claims).encode(), key, typ="dpop+jwt", include_kid=False, extra_header={"jwk": jwk}
    )


@given(case=claim_and_value(PROOF_CLAIMS))
@example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
@examples(300)
def test_dpop_proofs_at_the_token_endpoint(case: tuple[str, object]) -> None:
    name, value = case
    clock = FrozenClock()
    key = jose.SigningKey.generate("EdDSA")
    proof = sign_proof_with(key, with_claim(proof_claims(NOW), name, value))
    verifier = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock)
    accepted = outcome(lambda: verifier.verify([proof], method="POST", url=PROOF_URL), {"invalid_dpop_proof"}, 400)
    check(accepted, proof_rule(name, value, NOW), name, value)


KEK = KeyEncryptionKey.generate()
NONCES = SealedNonces(lambda: KEK, FrozenClock())


@given(case=claim_and_value({**PROOF_CLAIMS, "nonce": [NONCES.current(), "v1.AAAA", "v1." + "A" * 200]}))
@example(case=("nonce", NONCES.current()))  # the server's nonce: accepted
@examples(200)
def test_dpop_proofs_with_server_nonces(case: tuple[str, object]) -> None:
    """With nonces required (RFC 9449 §8), a proof without the server's own is ``use_dpop_nonce``."""
    name, value = case
    clock = FrozenClock()
    key = jose.SigningKey.generate("EdDSA")
    claims = with_claim(proof_claims(NOW, nonce=NONCES.current()), name, value)
    proof = sign_proof_with(key, claims)
    verifier = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock, nonces=NONCES)
    accepted = outcome(
        lambda: verifier.verify([proof], method="POST", url=PROOF_URL), {"invalid_dpop_proof", "use_dpop_nonce"}, 400
    )
    nonce_ok = name != "nonce" or value == NONCES.current()
    check(accepted, nonce_ok and proof_rule(name, value, NOW), name, value)


@given(case=claim_and_value({**PROOF_CLAIMS, "ath": ["x"], "htu": [f"{API}/t"], "htm": ["GET"]}))
@example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
@examples(300)
def test_dpop_proofs_at_a_resource_server(case: tuple[str, object]) -> None:
    """``verify_presented``, what any resource server calls with what an unauthenticated caller sends."""
    name, value = case
    clock = FrozenClock()
    issuer_key, key = jose.SigningKey.generate("EdDSA", kid="k1"), jose.SigningKey.generate("ES256")
    bound = {**access_claims(NOW), "cnf": {"jkt": key.public_key.thumbprint}}
    token = jose.sign_jwt(bound, issuer_key, typ="at+jwt")
    ath = access_token_hash(token)
    claims = with_claim(proof_claims(NOW, htm="GET", htu=f"{API}/t", ath=ath), name, value)
    proof = sign_proof_with(key, claims)
    proofs = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock)
    tokens = VerifiedCache(KeySet([issuer_key.public_key]), VerifyPolicy.access_token(ISSUER, API), clock)

    def present() -> object:
        return verify_presented(f"DPoP {token}", [proof], method="GET", url=f"{API}/t", proofs=proofs, tokens=tokens)

    accepted = outcome(present, {"invalid_dpop_proof"}, 401)
    check(accepted, proof_rule(name, value, NOW, ath=ath, url=f"{API}/t", method="GET"), name, value)


PROOF_HEADER: dict[str, Sequence[object]] = {
    "typ": ["dpop+jwt", "application/DPoP+JWT", "JWT"],
    "alg": ["EdDSA", "ES256", "none", "HS256"],
    "jwk": [{"kty": "oct", "k": "c2VjcmV0"}],
    "jku": ["https://attacker.example/jwks.json"],
    "x5u": ["https://attacker.example/cert.pem"],
    "x5c": [["MIIBszCCAVmgAwIBAgIU"]],
    "kid": ["k1", ""],
    "crit": [["exp"]],
    "b64": [False],
    "ext": [],
    "jwk.kty": ["OKP", "EC", "oct", []],
    "jwk.crv": ["Ed25519", "P-256", "X25519"],
    "jwk.x": ["AAAA"],
    "jwk.d": ["AAAA"],
    "jwk.use": ["sig", "enc"],
    "jwk.key_ops": [["verify"], ["sign"]],
    "jwk.alg": ["EdDSA", "ES256"],
    "jwk.kid": ["k1"],
    "jwk.ext": [],
}


def header_rule(name: str, value: object, original: Mapping[str, Any]) -> bool:
    """RFC 9449 §4.2 and the JOSE layer: typ dpop+jwt, the key's alg, the public key in jwk and no other key
    pointer (jku, x5u, x5c), no crit or b64, a kid (ignored) a short string if not null; members of the jwk that
    do not make the key are free, but a private one (d), a use other than sig, key_ops without verify."""
    if value is ABSENT:
        return name not in ("typ", "alg", "jwk", "jwk.kty", "jwk.crv", "jwk.x")
    if not finite(value):
        return False
    jwk = original["jwk"]
    if name == "typ":
        return isinstance(value, str) and value.lower().removeprefix("application/") == "dpop+jwt"
    if name == "alg":
        return bool(value == original["alg"])
    if name == "jwk":
        return bool(value == jwk)
    if name in ("jku", "x5u", "x5c", "crit", "b64", "jwk.d"):
        return False
    if name == "kid":
        return value is None or text(value, 256)
    if name in ("jwk.kty", "jwk.crv", "jwk.x"):
        return bool(value == jwk[name.removeprefix("jwk.")])
    if name == "jwk.use":
        return value is None or value == "sig"
    if name == "jwk.key_ops":
        return value is None or (isinstance(value, list) and "verify" in value)
    return True  # ext, jwk.alg and jwk.kid (the proof's alg is what counts), jwk.ext


@given(case=claim_and_value(PROOF_HEADER))
@example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
@examples(400)
def test_dpop_proof_headers(case: tuple[str, object]) -> None:
    name, value = case
    clock = FrozenClock()
    native = ed25519.Ed25519PrivateKey.generate()
    raw = native.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    header: dict[str, Any] = {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk}
    if name.startswith("jwk."):
        changed = {**header, "jwk": with_claim(jwk, name.removeprefix("jwk."), value)}
    else:
        changed = with_claim(header, name, value)
    claims = json.dumps(proof_claims(NOW)).encode()
    # signed natively: the header exactly as generated (alg included), with the key of the original jwk
    signing_input = f"{b64(json.dumps(changed).encode())}.{b64(claims)}"
    proof = f"{signing_input}.{b64(native.sign(signing_input.encode()))}"
    verifier = DpopVerifier(replay=InMemoryReplayGuard(clock), clock=clock)
    accepted = outcome(lambda: verifier.verify([proof], method="POST", url=PROOF_URL), {"invalid_dpop_proof"}, 400)
    small = len(json.dumps(changed)) <= 2048
    check(accepted, small and header_rule(name, value, header), name, value)


# -- wired as in production --------------------------------------------------------------------------------------

PLANNER, REPORTER = "planner", "reporter"
CRM = "https://crm.example.org/api"
READ = "read:crm.contacts"
POLICY = """
@id("alice-reads")
permit(principal == User::"alice", action == Action::"read", resource in App::"crm");
@id("agents-read")
permit(principal is Agent, action == Action::"read", resource in App::"crm");
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        home=tmp_path,
        database_url=database_url,
        tokens={
            "issuer": ISSUER,
            "trusted_issuers": [
                {"issuer": IDP, "jwks": jose.export_jwks([IDP_KEY.public_key]), "algorithms": ["ES256"]}
            ],
        },
    )


@pytest.fixture
def estate(remit: Remit) -> dict[str, jose.SigningKey]:
    """alice owns the agents helpdesk, planner and reporter, each with a registered key; crm.contacts is readable."""
    remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="crm", kind=ResourceKind.APP))
    remit.registry.create_resource(ADMIN, ResourceDraft(id="crm.contacts", kind=ResourceKind.ENDPOINT, parent="crm"))
    keys = {}
    for agent in (CLIENT, PLANNER, REPORTER):
        remit.registry.create_agent(ADMIN, AgentDraft(name=agent, owner="alice"))
        keys[agent] = jose.SigningKey.generate("EdDSA")
        remit.agent_keys.add(ADMIN, agent, keys[agent].public_key.to_jwk())
    remit.policies.apply(ADMIN, POLICY)
    remit.refresher.refresh()
    remit.audit_log.start()  # as a server does: every token issued, exchanged or revoked is recorded
    return keys


def signed_assertion(key: jose.SigningKey, claims: Mapping[str, Any]) -> str:
    return jose.sign_compact(json.dumps(claims).encode(), key, typ="JWT")


def token_request(assertion: str) -> dict[str, list[str]]:
    return {
        "grant_type": ["client_credentials"],
        "client_assertion_type": [ASSERTION_TYPE],
        "client_assertion": [assertion],
        "resource": [CRM],
        "scope": [READ],
    }


def once(used: set[str], name: str, value: object, rule: bool) -> bool:
    """``rule``, and a ``jti`` not used before: the store's replay guard remembers every example's."""
    return rule and not (name == "jti" and value in used)


def remember(used: set[str], claims: Mapping[str, Any], accepted: bool) -> None:
    if accepted and isinstance(claims.get("jti"), str):
        used.add(claims["jti"])


def test_the_token_endpoint(remit: Remit, estate: dict[str, jose.SigningKey]) -> None:
    """``client_credentials``: the client assertion's claims (``invalid_client``, 401), then the DPoP proof's
    (``invalid_dpop_proof``, 400), through the store's replay guard."""
    endpoint = remit.token_endpoint
    url = endpoint.token_endpoint
    used: set[str] = set()

    @given(case=claim_and_value(ASSERTION_CLAIMS))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def assertions(case: tuple[str, object]) -> None:
        name, value = case
        base = assertion_claims(NOW)
        claims = with_claim(base, name, value)
        assertion = signed_assertion(estate[CLIENT], claims)
        accepted = outcome(lambda: endpoint.client_credentials(token_request(assertion)), {"invalid_client"}, 401)
        check(accepted, once(used, name, value, assertion_rule(name, value, NOW, base)), name, value)
        remember(used, claims, accepted)

    proofs_used: set[str] = set()

    @given(case=claim_and_value({**PROOF_CLAIMS, "htu": [url]}))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def proofs(case: tuple[str, object]) -> None:
        name, value = case
        params = token_request(signed_assertion(estate[CLIENT], assertion_claims(NOW)))
        claims = with_claim(proof_claims(NOW, htu=url), name, value)
        proof = sign_proof_with(estate[PLANNER], claims)
        accepted = outcome(lambda: endpoint.client_credentials(params, [proof]), {"invalid_dpop_proof"}, 400)
        check(accepted, once(proofs_used, name, value, proof_rule(name, value, NOW, url=url)), name, value)
        remember(proofs_used, claims, accepted)

    assertions()
    proofs()


def own_token(remit: Remit, claims: Mapping[str, Any]) -> str:
    """A token signed with Remit's own active key: as if Remit had issued these claims."""
    return sign_claims(remit.signing_keys.active(), claims)


def any_audience(value: object) -> bool:
    """What introspection takes for the audience to verify a token for: the token's own ``aud``, any at all."""
    return text(value) or (isinstance(value, list) and bool(value) and all(text(a) for a in value))


def test_introspection_and_revocation(remit: Remit, estate: dict[str, jose.SigningKey]) -> None:
    """Introspection answers ``{"active": false}`` for every token that is not valid, and never raises; revocation by
    the client ignores such a token (RFC 7009 §2.2), revocation by an admin refuses it as a bad request. A valid one
    is revoked by both."""
    revoked: set[str] = set()

    @given(case=claim_and_value({**ACCESS_CLAIMS, "aud": [CRM]}))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @example(case=("exp", MAX_DATE))  # valid, and kept revoked until the last second there is
    @example(case=("exp", 10**400))
    @examples(80)
    def run(case: tuple[str, object]) -> None:
        name, value = case
        claims = with_claim(access_claims(NOW, audience=CRM), name, value)
        token = own_token(remit, claims)
        answer = remit.introspection.introspect({"token": [token]}, "test")
        rule: bool | None = access_rule(name, value, NOW)
        if name == "aud":
            rule = finite(value) and any_audience(value)
        if name == "cnf":  # reported, not enforced: the holder's connection is not introspection's to see
            rule = value is ABSENT or (
                isinstance(value, dict)
                and bool(value)
                and set(value) <= {"jkt", "x5t#S256"}
                and all(text(v) for v in value.values())
            )
        if name in ("sub", "client_id", "act", "sub_type"):  # the agents named must be active: not stated here
            rule = None if rule else False
        if isinstance(claims.get("jti"), str) and claims["jti"] in revoked:
            rule = False
        check(answer["active"], rule, name, value)
        if answer["active"]:
            assert answer["exp"] == claims["exp"]
        client = {**assertion_claims(NOW), "aud": remit.introspection.revocation_endpoint}
        remit.introspection.revoke({"token": [token], **token_request(signed_assertion(estate[CLIENT], client))})
        try:
            done = remit.token_revocation.revoke(ADMIN, token=token, reason="property test")
        except (ValidationError, NotFound):
            assert not answer["active"]
        else:
            assert done.jti == claims["jti"]
        if answer["active"]:
            revoked.add(claims["jti"])
            assert remit.introspection.introspect({"token": [token]}, "test") == {"active": False}

    run()


def test_token_exchange(remit: Remit, estate: dict[str, jose.SigningKey]) -> None:
    """RFC 8693 §2.2.2: a subject or actor token that is not valid for any reason is ``invalid_request``. The
    subject is reporter's token addressed to planner (its SPIFFE id in ``aud``), Remit's own; or alice's token from
    a trusted identity provider; the actor planner, proven by its own access token or an assertion it signed."""
    exchange = remit.token_exchange
    with remit.store.transaction(readonly=True) as tx:
        planner = tx.get_agent(PLANNER)
    assert planner is not None
    hop = planner.spiffe_id

    def request(subject: str, actor: str | None = None) -> dict[str, list[str]]:
        params = {
            "grant_type": [GRANT_TYPE],
            "subject_token": [subject],
            "subject_token_type": [ACCESS_TOKEN_TYPE],
            "resource": [CRM],
            "scope": [READ],
        }
        if actor is not None:
            params |= {"actor_token": [actor], "actor_token_type": [JWT_TOKEN_TYPE]}
        return params

    def subject_claims() -> dict[str, Any]:
        return {**access_claims(NOW, audience=hop), "sub": REPORTER, "client_id": REPORTER, "scope": READ}

    def exchanged(params: Mapping[str, Sequence[str]]) -> bool:
        return outcome(lambda: exchange.exchange(params, PLANNER), {"invalid_request", "invalid_scope"}, 400)

    def settled(
        name: str,
        value: object,
        rule: bool,
        exact: Collection[str] = ("exp", "nbf", "iat", "ext"),
        subject: bool = True,
    ) -> bool | None:
        """The claims in ``exact`` settle the answer; for the others, an accepted value must be one the verifier
        takes (whether the exchange then goes through depends on more than the token)."""
        seconds = date(value)
        if subject and name == "exp" and rule and seconds is not None:  # the token issued cannot outlive it
            return int(seconds) > NOW
        return rule if name in exact else (None if rule else False)

    @given(case=claim_and_value({**ACCESS_CLAIMS, "aud": [hop, [hop, CRM]], "scope": [READ, "read:other"]}))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def own_subjects(case: tuple[str, object]) -> None:
        name, value = case
        subject = own_token(remit, with_claim(subject_claims(), name, value))
        rule = audience(value, (hop,)) if name == "aud" else access_rule(name, value, NOW, aud=hop)
        check(exchanged(request(subject)), settled(name, value, rule), name, value)

    idp_claims: dict[str, Sequence[object]] = {
        "iss": [IDP],
        "sub": ["alice", "bob"],
        "aud": [ISSUER, TOKEN_ENDPOINT],
        "exp": [NOW + 60, NOW - 31],
        "nbf": [NOW, NOW + 31],
        "iat": [NOW, NOW + 31],
        "act": [{"sub": "x"}],
        "may_act": [{"sub": PLANNER}, {"sub": REPORTER}],
        "ext": [],
    }

    def idp_rule(name: str, value: object) -> bool:
        """A trusted issuer's token: its iss, an aud naming Remit, the dates, the user claim; never an ``act``."""
        if value is ABSENT:
            return name in ("nbf", "iat", "act", "may_act", "ext")
        if not finite(value):
            return False
        if name == "iss":
            return value == IDP
        if name == "sub":
            return text(value)
        if name == "aud":
            return audience(value, (ISSUER, TOKEN_ENDPOINT))
        if name in ("exp", "nbf", "iat"):
            return dates_rule(name, value, NOW)
        return name != "act"  # a delegated token of another issuer is never exchanged

    @given(case=claim_and_value(idp_claims))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def foreign_subjects(case: tuple[str, object]) -> None:
        name, value = case
        base = {"iss": IDP, "sub": "alice", "aud": ISSUER, "iat": NOW, "exp": NOW + 600, "jti": unique("idp")}
        subject = jose.sign_compact(json.dumps(with_claim(base, name, value)).encode(), IDP_KEY, typ="JWT")
        rule = idp_rule(name, value)
        check(
            exchanged(request(subject)),
            settled(name, value, rule, ("exp", "nbf", "iat", "iss", "act", "ext")),
            name,
            value,
        )

    @given(case=claim_and_value({**ACCESS_CLAIMS, "sub": [PLANNER], "client_id": [PLANNER], "aud": [CRM]}))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def own_actors(case: tuple[str, object]) -> None:
        name, value = case
        actor_claims = {**access_claims(NOW, audience=CRM), "sub": PLANNER, "client_id": PLANNER}
        actor = own_token(remit, with_claim(actor_claims, name, value))
        if name == "sub":
            rule = value == PLANNER  # the actor token must prove the authenticated client
        elif name == "aud":
            rule = finite(value) and any_audience(value)
        else:
            rule = access_rule(name, value, NOW)
        accepted = exchanged(request(own_token(remit, subject_claims()), actor))
        exact = ("exp", "nbf", "iat", "sub", "iss", "cnf", "ext")
        check(accepted, settled(name, value, rule, exact, subject=False), name, value)

    used: set[str] = set()

    @given(case=claim_and_value({**ASSERTION_CLAIMS, "iss": [PLANNER, ISSUER], "sub": [PLANNER]}))
    @example(case=("ext", 0))  # as made, with a claim nobody reads: accepted
    @examples(60)
    def assertion_actors(case: tuple[str, object]) -> None:
        name, value = case
        base = {**assertion_claims(NOW), "iss": PLANNER, "sub": PLANNER}
        claims = with_claim(base, name, value)
        actor = signed_assertion(estate[PLANNER], claims)
        if name in ("iss", "sub"):
            rule = value == PLANNER  # the client_id is the authenticated agent's; Remit's iss means Remit's token
        else:
            rule = assertion_rule(name, value, NOW, base)
        accepted = exchanged(request(own_token(remit, subject_claims()), actor))
        check(accepted, once(used, name, value, rule), name, value)
        remember(used, claims, accepted)

    own_subjects()
    foreign_subjects()
    own_actors()
    assertion_actors()
