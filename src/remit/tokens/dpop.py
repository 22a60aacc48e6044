"""DPoP proofs (RFC 9449): a client proves, on every request, that it holds the private key its access token is
bound to.

A proof is a JWT the client signs with that key and sends in the ``DPoP`` header; the public key travels in the
proof's own ``jwk`` header, and its RFC 7638 thumbprint (``jkt``) is what a bound token's ``cnf`` names. The
checks of RFC 9449 §4.3, in order (``DpopVerifier.verify``):

1. exactly one ``DPoP`` header value;
2. a compact JWS within the size caps (``MAX_PROOF_BYTES``, ``MAX_HEADER_BYTES``);
3. ``typ`` ``dpop+jwt``;
4. ``alg`` one of ``DPOP_ALGORITHMS`` (asymmetric only: never ``none``, never HMAC);
5. a ``jwk`` header holding a public key (a private or symmetric member is refused), fit for ``alg``, and no other
   header pointing at a key (``jku``, ``x5u``, ``x5c``: the one rule of ``verify.key_locators``);
6. the signature verifies with that key;
7. claims ``jti`` (a string), ``htm`` equal to the request method, ``htu`` equal to the request URI without its
   query and fragment, after normalisation (``normalise_htu``: scheme and host case, default port, percent-encoding
   case, an empty path as ``/``);
8. ``iat`` a NumericDate (``verify.numeric_date``: a JSON number of seconds from 1970 to the year 9999) no more
   than ``max_age`` seconds in the past and ``leeway`` seconds in the future (the injected clock);
9. with an access token (at a resource), ``ath`` = base64url(SHA-256(token));
10. with a ``NonceSource`` (``dpopnonce``), a ``nonce`` claim it accepts (RFC 9449 §8); otherwise ``UseDpopNonce``,
    carrying a fresh nonce for the ``DPoP-Nonce`` header;
11. the ``jti`` never seen before with this key: recorded through a ``ReplayGuard`` shared by every server, until
    the proof is too old to be accepted anyway.

Every refusal raises ``InvalidDpopProof`` (``invalid_dpop_proof``) with the status given to ``verify``: 400 at the
token endpoint (§5), 401 at a resource server (§7.1). Descriptions name the check, never a value from the proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from remit.clock import Clock
from remit.errors import ConfigurationError
from remit.ids import new_id
from remit.tokens import jose
from remit.tokens.dpopnonce import NonceSource
from remit.tokens.errors import InvalidDpopProof, InvalidKey, InvalidToken, JoseError, TokenError, UseDpopNonce
from remit.tokens.verify import NO_BINDING, Binding, ReplayGuard, VerifiedToken, key_locators, numeric_date

#: the ``typ`` of a proof (RFC 9449 §4.2)
DPOP_TYP: Final = "dpop+jwt"
#: the algorithms a proof may be signed with: asymmetric ones the JOSE layer verifies (RFC 9449 §4.2)
DPOP_ALGORITHMS: Final = tuple(a for a in ("EdDSA", "ES256", "ES384", "PS256", "RS256") if a in jose.ALGORITHMS)
#: caps on a proof: room for an RSA-4096 key in the header and a long URI, no more
MAX_PROOF_BYTES: Final = 8192
MAX_HEADER_BYTES: Final = 2048
#: the longest ``jti`` or ``htu`` accepted
MAX_JTI_CHARS: Final = 256
MAX_HTU_CHARS: Final = 2048
#: the replay guard's namespace for proofs: not an agent name (those never hold ':'), so never a client's assertions
REPLAY_ISSUER: Final = "dpop:proof"

_LIMITS: Final = jose.Limits(max_token_bytes=MAX_PROOF_BYTES, max_header_bytes=MAX_HEADER_BYTES)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PERCENT: Final = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

_Fail = Callable[[str], InvalidDpopProof]


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A proof that passed every check."""

    jkt: str  #: RFC 7638 thumbprint of the proof's key: what ``cnf.jkt`` of a bound token names
    jti: str
    htm: str
    htu: str  #: as normalised
    iat: float
    alg: str


class DpopVerifier:
    """Checks DPoP proofs (RFC 9449 §4.3). One per process; thread-safe (its state is the replay guard's)."""

    def __init__(
        self,
        *,
        replay: ReplayGuard,
        clock: Clock,
        max_age: int = 60,
        leeway: int = 5,
        algorithms: Collection[str] = DPOP_ALGORITHMS,
        nonces: NonceSource | None = None,
    ) -> None:
        refused = [alg for alg in algorithms if alg not in jose.ALGORITHMS]
        if not algorithms or refused:
            raise ConfigurationError(f"DPoP algorithms must be asymmetric; refused: {refused}", field="algorithms")
        if not 1 <= max_age <= 3600:
            raise ConfigurationError("the DPoP proof age must be between 1 and 3600 seconds", field="max_age")
        if not 0 <= leeway <= 300:
            raise ConfigurationError("the DPoP leeway must be between 0 and 300 seconds", field="leeway")
        self._replay = replay
        self._clock = clock
        self.max_age = max_age
        self.leeway = leeway
        self.algorithms: tuple[str, ...] = tuple(sorted(algorithms))
        #: when set, every proof must carry one of its nonces (RFC 9449 §8)
        self.nonces = nonces

    def verify(
        self,
        values: Sequence[str],
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        status: int = 400,
    ) -> DpopProof:
        """Check the ``DPoP`` header ``values`` of a request to ``method`` ``url``; ``access_token`` is the token the
        request presents (a resource server's case: ``ath`` is then required). Raises ``InvalidDpopProof`` with
        ``status``."""

        def fail(description: str) -> InvalidDpopProof:
            return InvalidDpopProof(description, status=status)

        if len(values) != 1:
            raise fail("exactly one DPoP header is required")
        try:
            jws = jose.parse_compact(values[0].strip(), _LIMITS)
        except JoseError as exc:
            raise fail(f"the DPoP proof is malformed: {exc.message}") from exc
        header = jws.header
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower().removeprefix("application/") != DPOP_TYP:
            raise fail(f"the DPoP proof's typ must be {DPOP_TYP}")
        if jws.alg not in self.algorithms:
            raise fail(f"the DPoP proof's alg must be one of {', '.join(self.algorithms)}")
        named = key_locators(header, allowed=("jwk",))
        if named:
            raise fail(
                f"the DPoP proof names a key elsewhere ({', '.join(named)}): its public key travels in the jwk header"
                " only"
            )
        key = _proof_key(header.get("jwk"), jws.alg, fail)
        try:
            jose.verify_compact(jws, key, self.algorithms, _LIMITS)
        except JoseError as exc:
            raise fail(f"the DPoP proof is not valid: {exc.message}") from exc
        try:
            claims = jose.parse_json_object(jws.payload, "DPoP proof claims")
        except JoseError as exc:
            raise fail(exc.message) from exc
        jti = _string(claims, "jti", MAX_JTI_CHARS, fail)
        htm = _string(claims, "htm", 32, fail)
        htu = _string(claims, "htu", MAX_HTU_CHARS, fail)
        if htm != method:
            raise fail("the DPoP proof's htm is not this request's method")
        target = normalise_htu(url)
        if target is None:  # pragma: no cover - the server's own URL is always absolute
            raise fail("the request URI cannot be compared with the DPoP proof")
        if normalise_htu(htu) != target:
            raise fail("the DPoP proof's htu is not this request's URI")
        if "iat" not in claims:
            raise fail("the DPoP proof lacks the iat claim")
        iat = numeric_date(claims["iat"])
        if iat is None:
            raise fail("the DPoP proof's iat is not a number of seconds between 1970 and the year 9999")
        now = self._clock.now().timestamp()
        if iat > now + self.leeway:
            raise fail("the DPoP proof was issued in the future (iat)")
        if now - iat > self.max_age:
            raise fail(f"the DPoP proof is older than {self.max_age} seconds (iat)")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not ath:
                raise fail("the DPoP proof lacks the ath claim that binds it to the access token")
            if not hmac.compare_digest(_utf8(ath), access_token_hash(access_token).encode()):
                raise fail("the DPoP proof's ath is not the hash of this access token")
        if self.nonces is not None:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonces.accepts(nonce):
                what = "lacks the server's nonce" if nonce is None else "carries a nonce that is unknown or expired"
                raise UseDpopNonce(
                    f"the DPoP proof {what}: use the one in the DPoP-Nonce header",
                    status=status,
                    headers={"DPoP-Nonce": self.nonces.current()},
                )
        jkt = key.thumbprint
        # kept until the proof is refused as too old anyway; scoped by key, so one key cannot use up another's; hashed,
        # so that any JSON string (NUL, lone surrogates, any length) is stored as the same short ASCII
        replay_id = "sha256:" + hashlib.sha256(_utf8(f"{jkt}.{jti}")).hexdigest()
        if not self._replay.first_use(REPLAY_ISSUER, replay_id, iat + self.max_age + 1):
            raise fail("the DPoP proof was used before (jti)")
        return DpopProof(jkt=jkt, jti=jti, htm=htm, htu=target, iat=iat, alg=jws.alg)


# -- the client's side (RFC 9449 §4.2) -----------------------------------------------------------------------


def sign_proof(
    key: jose.SigningKey,
    *,
    method: str,
    url: str,
    iat: float,
    jti: str | None = None,
    access_token: str | None = None,
    nonce: str | None = None,
) -> str:
    """A DPoP proof for one request, signed with ``key`` (its public half in the ``jwk`` header); with
    ``access_token``, its ``ath``; with ``nonce``, the server's nonce. ``url`` is sent without its query and
    fragment."""
    claims: dict[str, Any] = {
        "jti": jti or new_id("dpop"),
        "htm": method,
        "htu": url.split("#", 1)[0].split("?", 1)[0],
        "iat": int(iat),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    jwk = {k: v for k, v in key.public_key.to_jwk().items() if k not in ("kid", "alg", "use")}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jose.sign_compact(payload, key, typ=DPOP_TYP, include_kid=False, extra_header={"jwk": jwk})


# -- at a resource server (RFC 9449 §7) ----------------------------------------------------------------------


class TokenCheck(Protocol):
    """Verifies an access token against a binding: ``VerifiedCache`` (or ``verify_jwt`` with its arguments bound)."""

    def verify(self, token: str, binding: Binding = ...) -> VerifiedToken: ...


def verify_presented(
    authorization: str | None,
    dpop: Sequence[str],
    *,
    method: str,
    url: str,
    proofs: DpopVerifier,
    tokens: TokenCheck,
    binding: Binding = NO_BINDING,
) -> VerifiedToken:
    """The access token a request presents, checked as a resource server must (RFC 9449 §7, RFC 6750 §2.1).

    ``authorization`` is the ``Authorization`` header, ``dpop`` the ``DPoP`` header values, ``method`` and ``url``
    the request's (the URL as the client addressed it: behind a proxy, the public one); ``binding`` what else the
    connection showed (a client certificate's thumbprint).

    * ``DPoP <token>``: the proof must verify for this request with ``ath`` of this token, and the token must be
      bound (``cnf.jkt``) to the proof's key;
    * ``Bearer <token>``: the token must not be DPoP-bound (RFC 9449 §7.2: a bound token is never a bearer token).

    Raises ``InvalidToken`` or ``InvalidDpopProof``, both 401; ``dpop_challenge`` makes the ``WWW-Authenticate``
    header to answer with.
    """
    if not authorization:
        raise InvalidToken("the request carries no access token (Authorization: DPoP or Bearer)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if not token or " " in token:
        raise InvalidToken("the Authorization header must be a scheme and a token")
    if scheme.lower() == "dpop":
        if not dpop:
            raise InvalidDpopProof("the DPoP scheme needs a DPoP proof in the DPoP header", status=401)
        proof = proofs.verify(dpop, method=method, url=url, access_token=token, status=401)
        verified = tokens.verify(token, replace(binding, dpop_jkt=proof.jkt))
        if verified.cnf_jkt is None:
            raise InvalidToken("the token is not DPoP-bound: present it with the Bearer scheme")
        return verified
    if scheme.lower() == "bearer":
        return tokens.verify(token, binding)  # a DPoP-bound token fails its binding check: no proof key
    raise InvalidToken("the Authorization scheme must be DPoP or Bearer")


def dpop_challenge(error: TokenError | None, algorithms: Sequence[str] = DPOP_ALGORITHMS) -> str:
    """A ``WWW-Authenticate`` value for the DPoP scheme (RFC 9449 §7.1): the error and its description, if any, and
    the proof algorithms accepted."""
    params = []
    if error is not None:
        params.append(f'error="{error.code}"')
        params.append(f'error_description="{_quoted(error.message)}"')
    params.append(f'algs="{" ".join(algorithms)}"')
    return "DPoP " + ", ".join(params)


def _quoted(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace("\\", "\\\\").replace('"', '\\"')


# -- helpers ------------------------------------------------------------------------------------------------


def access_token_hash(token: str) -> str:
    """The ``ath`` of an access token (RFC 9449 §4.2): base64url of the SHA-256 of its ASCII text, no padding."""
    digest = hashlib.sha256(token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalise_htu(uri: str) -> str | None:
    """An HTTP URI for comparison (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2 and §6.2.3): query and fragment dropped,
    scheme and host in lower case, the scheme's default port removed, percent-encodings in upper case (and those of
    unreserved characters decoded), an empty path as ``/``. None when it is not an absolute http(s) URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _PERCENT.sub(_percent, parts.path) or "/"
    return f"{scheme}://{netloc}{path}"


def _utf8(text: str) -> bytes:
    """Any JSON string as bytes, lone surrogates included (they cannot be encoded as UTF-8 proper)."""
    return text.encode("utf-8", "surrogatepass")


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group()[1:], 16))
    return char if char in _UNRESERVED else match.group().upper()


def _proof_key(jwk: Any, alg: str, fail: _Fail) -> jose.PublicKey:
    """The public key of the proof's ``jwk`` header, imported for ``alg``."""
    if not isinstance(jwk, Mapping):
        raise fail("the DPoP proof's header lacks its public key (jwk)")
    try:
        return jose.PublicKey.from_jwk({k: v for k, v in jwk.items() if k not in ("alg", "kid")}, alg=alg)
    except InvalidKey as exc:
        raise fail(f"the DPoP proof's jwk is not usable: {exc.message}") from exc


def _string(claims: Mapping[str, Any], name: str, max_chars: int, fail: _Fail) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise fail(f"the DPoP proof lacks the {name} claim")
    if len(value) > max_chars:
        raise fail(f"the DPoP proof's {name} is longer than {max_chars} characters")
    return value
