"""JWT verification for every Remit component: signature first, then claims, then revocation, replay and binding.

Two steps, as RFC 8725 §3 asks:

1. ``verify_jws``: size caps, header parse, algorithm allow-list, ``kid`` present and known through a ``KeyLookup``
   (never through ``jku``, ``jwk``, ``x5u`` or ``x5c``: a token carrying any of them is refused outright), the
   header ``alg`` equal to the key's own algorithm, the signature;
2. ``check_claims``: explicit type (``typ``, RFC 8725 §3.11), ``iss``, ``aud``, ``sub``, ``exp`` (required),
   ``nbf`` and ``iat`` with a small leeway, each a NumericDate in range (``numeric_date``), a lifetime cap,
   required claims.

``verify_jwt`` runs both, then the hooks the caller passes: ``is_revoked(jti)``, a ``ReplayGuard`` for one-time
assertions (RFC 7523 §3 item 7), and the ``cnf`` sender binding (RFC 8705 §3 ``x5t#S256``, RFC 9449 §6 ``jkt``)
against what the caller saw on the connection (``Binding``). ``VerifiedCache`` remembers verified tokens so that a
token seen before costs a hash and a few comparisons, still re-checking expiry, revocation and binding; it forgets
them all when the lookup's ``generation()`` (the set of keys that verify) changes.

Every refusal raises ``policy.failure`` (``InvalidToken`` by default, ``InvalidClient`` for client assertions,
``InvalidGrant`` for grants) with a description naming the check, never a value from the token.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import math
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Protocol

from remit.clock import Clock
from remit.errors import ConfigurationError
from remit.tokens import jose
from remit.tokens.errors import InvalidClient, InvalidToken, JoseError, TokenError

#: header members that point at a key: a URL to fetch it from (``jku``, ``x5u``), a certificate chain (``x5c``), the
#: key itself (``jwk``). Keys come from our own registry only (RFC 8725 §3.10), so a token carrying any of them is
#: refused; a DPoP proof carries its key in ``jwk`` (RFC 9449 §4.2) and is refused for the others
KEY_LOCATOR_HEADERS: Final = frozenset({"jku", "jwk", "x5u", "x5c"})
#: the last second a NumericDate claim may name (RFC 7519 §2): 9999-12-31T23:59:59Z, the last a ``datetime`` holds
MAX_NUMERIC_DATE: Final = 253_402_300_799
#: confirmation methods we can check (RFC 7800 §3.1): certificate thumbprint (RFC 8705), DPoP key (RFC 9449)
CNF_METHODS: Final = frozenset({"x5t#S256", "jkt"})

#: revocation hook: True when the token with this ``jti`` has been revoked
IsRevoked = Callable[[str], bool]


class KeyLookup(Protocol):
    """Where verification keys come from: Remit's own signing keys, or the keys an agent registered."""

    def find(self, kid: str) -> jose.PublicKey | None:
        """The key registered under ``kid``, or None when there is none.

        Implementations MUST answer from keys they already hold (a registry, a store, a configured JWKS); they
        MUST NOT fetch a key named by the token. They MAY raise ``StoreError`` when the store is unreachable.
        """
        ...


class KeyGeneration(Protocol):
    """A ``KeyLookup`` whose keys can change (rotation, a revoked key): ``generation`` tells when they did."""

    def generation(self) -> object:
        """A value equal to the previous one exactly while the same keys verify (e.g. their ``kid`` values).

        MUST be cheap (it is asked on every ``VerifiedCache`` hit) and MUST change no later than ``find`` stops
        finding a key that it found before."""
        ...


class ReplayGuard(Protocol):
    """Remembers one-time ``jti`` values (client assertions) until they expire."""

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record ``(issuer, jti)`` until ``expires_at`` (epoch seconds); True the first time, False for a replay.

        MUST be atomic: two concurrent calls with the same pair return True at most once. When it cannot record
        (full, store down) it MUST return False or raise: failing closed.
        """
        ...


@dataclass(frozen=True, slots=True)
class Binding:
    """What the caller saw on the connection, to check a token's ``cnf`` against."""

    certificate_thumbprint: str | None = None  #: ``x5t#S256`` of the TLS client certificate (RFC 8705 §3.1)
    dpop_jkt: str | None = None  #: RFC 7638 thumbprint of the key of a DPoP proof already verified (RFC 9449)


NO_BINDING: Final = Binding()


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """What a verifier accepts. Build one per audience and token kind, once, at start-up."""

    issuer: str  #: the exact ``iss`` required
    audience: str | tuple[str, ...]  #: ``aud`` must name at least one of these
    algorithms: tuple[str, ...] = ("EdDSA", "ES256")  #: allow-list; HMAC and ``none`` are refused at construction
    typ: str | None = "at+jwt"  #: required ``typ`` header (``application/`` prefix and case ignored, RFC 7515 §4.1.9)
    typ_optional: bool = False  #: accept a token without ``typ`` (never one with another ``typ``)
    subject: str | None = None  #: the exact ``sub`` required (client assertions: the client_id)
    leeway: int = 30  #: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``
    max_lifetime: int | None = None  #: cap on ``exp - iat`` (or ``exp - now`` without ``iat``), seconds
    required_claims: tuple[str, ...] = ("iss", "sub", "aud", "exp", "iat", "jti")
    require_binding: bool = False  #: refuse bearer tokens: a ``cnf`` claim is required
    max_token_bytes: int = 8192
    max_header_bytes: int = 1024
    failure: type[TokenError] = InvalidToken  #: the OAuth error every refusal raises
    _audiences: frozenset[str] = field(init=False, repr=False, compare=False)
    _limits: jose.Limits = field(init=False, repr=False, compare=False)
    _typ: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        audiences = (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)
        if not self.issuer or not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise ConfigurationError("a verify policy needs an issuer and at least one audience", field="audience")
        refused = [alg for alg in self.algorithms if alg not in jose.ALGORITHMS]
        if not self.algorithms or refused:
            raise ConfigurationError(
                f"algorithms must be asymmetric ones from {sorted(jose.ALGORITHMS)}; refused: {refused}",
                field="algorithms",
            )
        if not 0 <= self.leeway <= 300:
            raise ConfigurationError("leeway must be between 0 and 300 seconds", field="leeway")
        if self.max_lifetime is not None and self.max_lifetime <= 0:
            raise ConfigurationError("max_lifetime must be positive", field="max_lifetime")
        if "exp" not in self.required_claims:
            raise ConfigurationError("exp is always required", field="required_claims")
        object.__setattr__(self, "_audiences", frozenset(audiences))
        object.__setattr__(self, "_limits", jose.Limits(self.max_token_bytes, self.max_header_bytes))
        object.__setattr__(self, "_typ", _normalise_typ(self.typ) if self.typ is not None else None)

    @classmethod
    def access_token(cls, issuer: str, audience: str | tuple[str, ...], **options: Any) -> VerifyPolicy:
        """RFC 9068 access tokens: ``typ`` ``at+jwt`` and its required claims (§2.2), ``invalid_token`` (401)."""
        options.setdefault("required_claims", ("iss", "sub", "aud", "exp", "iat", "jti", "client_id"))
        return cls(issuer=issuer, audience=audience, **options)

    @classmethod
    def client_assertion(cls, client_id: str, audience: str | tuple[str, ...], **options: Any) -> VerifyPolicy:
        """RFC 7523 §3 client authentication: ``iss`` and ``sub`` are the client_id, ``aud`` names us, ``jti``
        and ``exp`` required, at most 5 minutes of lifetime, ``typ`` ``JWT`` or absent (so an access token is
        never taken for an assertion), ``invalid_client`` (401)."""
        options.setdefault("typ", "JWT")
        options.setdefault("typ_optional", True)
        options.setdefault("max_lifetime", 300)
        options.setdefault("required_claims", ("iss", "sub", "aud", "exp", "jti"))
        options.setdefault("failure", InvalidClient)
        return cls(issuer=client_id, audience=audience, subject=client_id, **options)


@dataclass(frozen=True, slots=True)
class VerifiedJWS:
    """A compact JWS whose signature verified with a known key (claims not checked yet)."""

    jws: jose.CompactJWS
    key: jose.PublicKey


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A JWT that passed every check. ``claims`` and ``header`` are read-only views."""

    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    kid: str
    alg: str
    expires_at: float  #: ``exp``, epoch seconds
    not_before: float | None = None  #: ``nbf``
    jti: str | None = None
    subject: str | None = None
    cnf_x5t_s256: str | None = None  #: bound to this client certificate thumbprint (RFC 8705)
    cnf_jkt: str | None = None  #: bound to this DPoP key thumbprint (RFC 9449)

    @property
    def bound(self) -> bool:
        return self.cnf_x5t_s256 is not None or self.cnf_jkt is not None


def verify_jws(token: str, lookup: KeyLookup, policy: VerifyPolicy) -> VerifiedJWS:
    """Step 1: structure, header, algorithm, key and signature. Raises ``policy.failure``."""
    fail = policy.failure
    try:
        jws = jose.parse_compact(token, policy._limits)
    except JoseError as exc:
        raise fail(exc.message) from exc
    header = jws.header
    if jws.alg not in policy.algorithms:
        raise fail("the signing algorithm is not allowed")
    if key_locators(header):
        raise fail("the token names its own key (jku, jwk, x5u or x5c); keys come from the registry only")
    kid = jws.kid
    if kid is None:
        raise fail("the token header has no key id (kid)")
    key = lookup.find(kid)
    if key is None:
        raise fail("the signing key is unknown")
    try:
        jose.verify_compact(jws, key, policy.algorithms)
    except JoseError as exc:
        raise fail(exc.message) from exc
    return VerifiedJWS(jws=jws, key=key)


def key_locators(header: Mapping[str, Any], allowed: Collection[str] = ()) -> list[str]:
    """The members of ``header`` that point at a key (``KEY_LOCATOR_HEADERS``), apart from ``allowed``, sorted: a
    token or proof that has any is refused, whatever their values (``null`` included)."""
    return sorted(KEY_LOCATOR_HEADERS.intersection(header).difference(allowed))


def numeric_date(value: object) -> float | None:
    """``value`` as a NumericDate (RFC 7519 §2), or None when it is none Remit accepts: a JSON number (never a
    boolean, which Python counts as an int) of seconds from 1970 to ``MAX_NUMERIC_DATE``. Compared before any
    conversion, so an integer beyond float range, NaN or an infinity is refused rather than raised on."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_NUMERIC_DATE:  # False for NaN too
        return None
    return float(value)


def check_claims(claims: Mapping[str, Any], header: Mapping[str, Any], policy: VerifyPolicy, now: float) -> None:
    """Step 2: ``typ``, required claims, ``iss``, ``sub``, ``aud``, ``exp``, ``nbf``, ``iat`` and lifetime, at
    ``now`` (epoch seconds). Raises ``policy.failure``."""
    fail = policy.failure
    typ = header.get("typ")
    if typ is None:
        if policy._typ is not None and not policy.typ_optional:
            raise fail("the token has no type (typ)")
    elif policy._typ is not None and _normalise_typ(typ) != policy._typ:
        raise fail("the token type (typ) is not accepted here")
    for name in policy.required_claims:
        if name not in claims:
            raise fail(f"the token lacks the required '{name}' claim")
    for name in ("iss", "sub", "jti", "client_id"):
        if name in claims and not (isinstance(claims[name], str) and claims[name]):
            raise fail(f"the '{name}' claim is not a non-empty string")
    if claims.get("iss") != policy.issuer:
        raise fail("the token was issued by another issuer")
    if policy.subject is not None and claims.get("sub") != policy.subject:
        raise fail("the token's subject does not match")
    # RFC 7519 §4.1.3: a recipient that does not find itself in "aud" MUST reject the token; we always check it
    audience = claims.get("aud")
    if audience is None:
        raise fail("the token lacks the required 'aud' claim")
    names = [audience] if isinstance(audience, str) else audience
    if not isinstance(names, list) or not names or not all(isinstance(a, str) for a in names):
        raise fail("the 'aud' claim is not a string or a list of strings")
    if policy._audiences.isdisjoint(names):
        raise fail("the token is not meant for this audience")
    exp = _number(claims, "exp", fail)
    assert exp is not None  # required above
    leeway = policy.leeway
    if now >= exp + leeway:
        raise fail("the token has expired")
    nbf = _number(claims, "nbf", fail)
    if nbf is not None and now + leeway < nbf:
        raise fail("the token is not valid yet (nbf)")
    iat = _number(claims, "iat", fail)
    if iat is not None and iat > now + leeway:
        raise fail("the token was issued in the future (iat)")
    if policy.max_lifetime is not None and exp - (iat if iat is not None else now) > policy.max_lifetime:
        raise fail(f"the token's lifetime exceeds {policy.max_lifetime} seconds")


def check_binding(token: VerifiedToken, binding: Binding, policy: VerifyPolicy) -> None:
    """The ``cnf`` sender binding against what the caller saw. Raises ``policy.failure``.

    RFC 8705 §3: a certificate-bound token is refused unless the TLS client certificate's SHA-256 thumbprint
    matches ``x5t#S256``. RFC 9449 §7.1: a DPoP-bound token is refused unless the (already verified) proof's key
    thumbprint matches ``jkt``.
    """
    fail = policy.failure
    if token.cnf_x5t_s256 is not None:
        presented = binding.certificate_thumbprint
        if presented is None:
            raise fail("the token is bound to a client certificate, and none was presented")
        if not hmac.compare_digest(presented.encode(), token.cnf_x5t_s256.encode()):
            raise fail("the token is bound to another client certificate")
    if token.cnf_jkt is not None:
        presented = binding.dpop_jkt
        if presented is None:
            raise fail("the token is bound to a DPoP key, and no DPoP proof was presented")
        if not hmac.compare_digest(presented.encode(), token.cnf_jkt.encode()):
            raise fail("the token is bound to another DPoP key")
    if policy.require_binding and not token.bound:
        raise fail("the token is not sender-constrained (cnf), and this audience requires it")


def verify_jwt(
    token: str,
    lookup: KeyLookup,
    policy: VerifyPolicy,
    now: datetime,
    *,
    is_revoked: IsRevoked | None = None,
    replay: ReplayGuard | None = None,
    binding: Binding | None = NO_BINDING,
) -> VerifiedToken:
    """Verify a JWT completely: ``verify_jws``, ``check_claims``, then revocation, binding and replay.

    ``binding`` None skips the ``cnf`` check, for a caller that reports the binding rather than enforces it (token
    introspection and revocation, which see no connection of the token's holder).

    Raises:
        TokenError: ``policy.failure``, naming the check that failed.
    """
    fail = policy.failure
    verified = verify_jws(token, lookup, policy)
    try:
        claims = jose.parse_json_object(verified.jws.payload, "claims set")
    except JoseError as exc:
        raise fail(exc.message) from exc
    header = verified.jws.header
    check_claims(claims, header, policy, now.timestamp())
    cnf = _confirmation(claims, fail)
    result = VerifiedToken(
        claims=MappingProxyType(claims),
        header=header,
        kid=verified.key.kid,
        alg=verified.jws.alg,
        expires_at=float(claims["exp"]),
        not_before=float(claims["nbf"]) if "nbf" in claims else None,
        jti=claims.get("jti"),
        subject=claims.get("sub"),
        cnf_x5t_s256=cnf.get("x5t#S256"),
        cnf_jkt=cnf.get("jkt"),
    )
    _check_revoked(result, is_revoked, fail)
    if binding is not None:
        check_binding(result, binding, policy)
    if replay is not None:
        if result.jti is None:
            raise fail("the token has no 'jti', so a replay cannot be detected")
        if not replay.first_use(policy.issuer, result.jti, result.expires_at + policy.leeway):
            raise fail("the token was used before (replay)")
    return result


class KeySet:
    """A ``KeyLookup`` over keys held in memory: Remit's JWKS, or the keys one agent registered."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Collection[jose.PublicKey]) -> None:
        self._keys = {key.kid: key for key in keys}
        if len(self._keys) != len(keys):
            raise ConfigurationError("two keys share a kid", field="kid")

    @classmethod
    def from_jwks(cls, document: str | bytes | Mapping[str, Any]) -> KeySet:
        return cls(jose.import_jwks(document))

    def find(self, kid: str) -> jose.PublicKey | None:
        return self._keys.get(kid)


_UNSEEN: Final = object()


class _Entry:
    __slots__ = ("referenced", "slot", "token")

    def __init__(self, token: VerifiedToken, slot: int) -> None:
        self.token = token
        self.slot = slot
        self.referenced = False


class VerifiedCache:
    """A bounded cache of verified tokens for one (lookup, policy): the gateway's and the PDP's hot path.

    Keyed by the SHA-256 of the token. A hit re-checks expiry (with the injected clock), revocation (the callback)
    and binding (the caller's ``Binding``), and skips the signature and claims work, which cannot change. Eviction
    is clock-sweep (second chance): reads take no lock (a dict lookup and a flag write), inserts and evictions take
    one. Only successful verifications are cached.

    When the lookup has a ``generation()`` (``KeyGeneration``: Remit's own signing keys do), every call asks it
    first and a change empties the cache: a token whose key was revoked (``remit keys rotate --revoke-previous``)
    is refused on the next call. WARNING: a lookup without one (a ``KeySet``) is taken as fixed; when its keys
    change, call ``clear()``. Not for one-time tokens (client assertions): those go through ``verify_jwt`` with a
    ``ReplayGuard``.
    """

    def __init__(
        self,
        lookup: KeyLookup,
        policy: VerifyPolicy,
        clock: Clock,
        *,
        capacity: int = 4096,
        is_revoked: IsRevoked | None = None,
    ) -> None:
        if capacity < 1:
            raise ConfigurationError("the cache needs a capacity of at least 1", field="capacity")
        self._lookup = lookup
        self._policy = policy
        self._clock = clock
        self._capacity = capacity
        self._is_revoked = is_revoked
        generation = getattr(lookup, "generation", None)
        self._generation: Callable[[], object] | None = generation if callable(generation) else None
        self._seen_generation: object = _UNSEEN
        self._entries: dict[bytes, _Entry] = {}
        self._ring: list[bytes] = []
        self._hand = 0
        self._lock = threading.Lock()

    def verify(self, token: str, binding: Binding = NO_BINDING) -> VerifiedToken:
        """Verify ``token`` now: from the cache when seen before, else in full (and remember it)."""
        policy = self._policy
        if len(token) > policy.max_token_bytes:
            return verify_jwt(token, self._lookup, policy, self._clock.now())  # raises: too large
        generation: object = None
        if self._generation is not None:
            generation = self._generation()
            if generation != self._seen_generation:
                with self._lock:
                    self._seen_generation = generation
                    self._forget()
        digest = hashlib.sha256(token.encode()).digest()
        entry = self._entries.get(digest)
        if entry is not None:
            entry.referenced = True
            cached = entry.token
            now = self._clock.now().timestamp()
            fail = policy.failure
            if now >= cached.expires_at + policy.leeway:
                self._discard(digest)
                raise fail("the token has expired")
            if cached.not_before is not None and now + policy.leeway < cached.not_before:
                raise fail("the token is not valid yet (nbf)")
            try:
                _check_revoked(cached, self._is_revoked, fail)
            except TokenError:
                self._discard(digest)
                raise
            check_binding(cached, binding, policy)
            return cached
        verified = verify_jwt(
            token, self._lookup, policy, self._clock.now(), is_revoked=self._is_revoked, binding=binding
        )
        if self._generation is None or self._generation() == generation:  # not if the keys changed meanwhile
            self._store(digest, verified)
        return verified

    def clear(self) -> None:
        """Forget every token (after a key rotation or removal, for a lookup without ``generation``)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:  # under the lock
        self._entries.clear()
        self._ring.clear()
        self._hand = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _discard(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)  # its ring slot becomes free; the sweep reuses it

    def _store(self, digest: bytes, token: VerifiedToken) -> None:
        with self._lock:
            if digest in self._entries:
                return
            ring = self._ring
            if len(ring) < self._capacity:
                self._entries[digest] = _Entry(token, len(ring))
                ring.append(digest)
                return
            # second chance: skip (and clear) recently used entries; a freed slot is taken at once
            while True:
                slot = self._hand
                self._hand = (slot + 1) % self._capacity
                victim = self._entries.get(ring[slot])
                if victim is not None and victim.slot == slot:
                    if victim.referenced:
                        victim.referenced = False
                        continue
                    del self._entries[ring[slot]]
                ring[slot] = digest
                self._entries[digest] = _Entry(token, slot)
                return


class InMemoryReplayGuard:
    """A ``ReplayGuard`` for one process: ``(issuer, jti)`` pairs until they expire, at most ``capacity`` of them.

    Full of unexpired pairs, it refuses new ones (fails closed) rather than forget one that could be replayed.
    Several servers need a shared guard in the store.
    """

    def __init__(self, clock: Clock, *, capacity: int = 100_000) -> None:
        self._clock = clock
        self._capacity = capacity
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        pair = (issuer, jti)
        now = self._clock.now().timestamp()
        with self._lock:
            while self._expiry and self._expiry[0][0] <= now:
                _, old = heapq.heappop(self._expiry)
                if self._seen.get(old, math.inf) <= now:
                    del self._seen[old]
            if pair in self._seen:
                return False
            if len(self._seen) >= self._capacity:
                return False
            self._seen[pair] = expires_at
            heapq.heappush(self._expiry, (expires_at, pair))
            return True


# -- helpers ------------------------------------------------------------------------------------------------


def _check_revoked(token: VerifiedToken, is_revoked: IsRevoked | None, fail: type[TokenError]) -> None:
    if is_revoked is None:
        return
    if token.jti is None:
        raise fail("the token has no 'jti', so its revocation cannot be checked")
    if is_revoked(token.jti):
        raise fail("the token has been revoked")


def _confirmation(claims: Mapping[str, Any], fail: type[TokenError]) -> dict[str, str]:
    """The ``cnf`` claim (RFC 7800), if any: only methods we can check, each a non-empty string."""
    if "cnf" not in claims:
        return {}
    cnf = claims["cnf"]
    if not isinstance(cnf, dict) or not cnf:
        raise fail("the 'cnf' claim is not a JSON object")
    if not CNF_METHODS.issuperset(cnf):
        raise fail("the token's confirmation method (cnf) is not supported")
    if not all(isinstance(value, str) and value for value in cnf.values()):
        raise fail("the 'cnf' claim holds a value that is not a non-empty string")
    return cnf


def _number(claims: Mapping[str, Any], name: str, fail: type[TokenError]) -> float | None:
    """A NumericDate claim (``numeric_date``), None when absent; ``fail`` when it is present and not one."""
    if name not in claims:
        return None
    seconds = numeric_date(claims[name])
    if seconds is None:
        raise fail(f"the '{name}' claim is not a number of seconds between 1970 and the year 9999 (a NumericDate)")
    return seconds


def _normalise_typ(typ: str) -> str:
    """RFC 7515 §4.1.9: media types are case-insensitive, and ``application/`` may be omitted."""
    lowered = typ.lower()
    return lowered.removeprefix("application/")
