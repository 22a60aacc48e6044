"""The JOSE boundary: JWK import and export, RFC 7638 thumbprints, compact JWS signing, parsing and verification.

The only module that imports ``joserfc``; its exceptions are translated here into ``JoseError`` (a token) and
``InvalidKey`` (a key). What this layer accepts is deliberately narrow:

* asymmetric algorithms only (``ALGORITHMS``): never ``none``, never HMAC, so no secret is ever shared and no
  public key can be turned into an HMAC secret (key confusion);
* one key per verification, chosen by the caller, and an explicit list of algorithms that must also contain the
  key's own algorithm: a token cannot pick its algorithm, nor its key;
* the compact serialization only, with caps on the token and header sizes, strict base64url, JSON proper (no
  duplicate members; no ``NaN``, ``Infinity`` or number beyond a double's range, which Python's parser reads), no
  ``crit`` (RFC 7515 §4.1.11: we implement no extension, so any listed one is not understood) and
  no ``b64`` (RFC 7797 unencoded payloads).

https://www.rfc-editor.org/rfc/rfc7515 (JWS), https://www.rfc-editor.org/rfc/rfc7517 (JWK),
https://www.rfc-editor.org/rfc/rfc7638 (thumbprints), https://www.rfc-editor.org/rfc/rfc8037 (EdDSA)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws as _jws
from joserfc.errors import JoseError as _JoseRfcError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey
from joserfc.jwk import thumbprint as _rfc7638_thumbprint
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from remit.tokens.errors import InvalidKey, JoseError

#: every algorithm this layer signs or verifies with; HMAC and ``none`` are absent on purpose
ALGORITHMS: Final = frozenset(
    {"EdDSA", "Ed25519", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
#: what Remit generates signing keys for: Ed25519 by default, P-256 available
GENERATED_ALGORITHMS: Final = ("EdDSA", "ES256")
#: smallest RSA modulus accepted (RFC 7518 §3.3 and §3.5: 2048 bits or larger)
MIN_RSA_BITS: Final = 2048

_ALG_MODELS: Final = {name: _jws.JWSRegistry.algorithms[name] for name in ALGORITHMS}
_EC_ALGS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_PUBLIC_MEMBERS: Final = {"OKP": ("crv", "x"), "EC": ("crv", "x", "y"), "RSA": ("n", "e")}
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class Limits:
    """Size caps applied before anything is decoded."""

    max_token_bytes: int = 8192  #: the whole compact token
    max_header_bytes: int = 1024  #: the decoded protected header (JSON)
    max_kid_chars: int = 256  #: a ``kid`` longer than this is refused


DEFAULT_LIMITS: Final = Limits()

# Decoded headers by their base64url text: the tokens of one signer share a handful of headers, so this saves the
# base64 and JSON work on most parses. Bounded: cleared when full. Only flat all-string headers are kept, read-only;
# the header checks still run on every parse.
_HEADERS: dict[str, Mapping[str, Any]] = {}
_HEADERS_MAX: Final = 1024


# -- keys ---------------------------------------------------------------------------------------------------


class PublicKey:
    """A verification key: a public JWK with a fixed ``alg`` and ``kid``, and its RFC 7638 thumbprint."""

    __slots__ = ("_key", "alg", "kid", "kty", "thumbprint")

    def __init__(self, key: Key, *, alg: str, kid: str) -> None:
        self._key = key
        self.alg = alg
        self.kid = kid
        self.kty: str = key.key_type
        #: RFC 7638 SHA-256 thumbprint, base64url: the ``jkt`` of DPoP (RFC 9449 §6.1)
        self.thumbprint: str = key.thumbprint()

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, alg: str | None = None, kid: str | None = None) -> PublicKey:
        """Import a public JWK (RFC 7517). ``alg`` and ``kid`` override the JWK's own members; an RSA key needs
        one of them to name its algorithm, because RS256 and PS256 share a key type.

        Raises:
            InvalidKey: a symmetric or private key, a weak or unsupported key, a ``use``/``key_ops`` other than
                signature verification, or an ``alg`` that does not fit the key.
        """
        if not isinstance(jwk, Mapping):
            raise InvalidKey("a JWK must be a JSON object", field="jwk")
        if _PRIVATE_MEMBERS & jwk.keys():
            raise InvalidKey("a private or symmetric key was given where a public key is expected", field="jwk")
        _check_use(jwk, "verify")
        key, chosen = _import_key(jwk, alg)
        return cls(key, alg=chosen, kid=_kid(jwk, kid, key))

    @classmethod
    def from_pem(cls, pem: bytes | str, *, alg: str | None = None, kid: str | None = None) -> PublicKey:
        """Import a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo)."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            native = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise InvalidKey("not a PEM public key", field="pem") from exc
        return cls.from_jwk(_native_to_jwk(native, private=False), alg=alg, kid=kid)

    def to_jwk(self) -> dict[str, Any]:
        """The public JWK, as published in a JWKS: key members plus ``kid``, ``alg`` and ``use``."""
        return {**_public_members(self._key), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def __repr__(self) -> str:
        return f"PublicKey(kty={self.kty!r}, alg={self.alg!r}, kid={self.kid!r})"


class SigningKey:
    """A private signing key with a fixed ``alg`` and ``kid``. Its ``public_key`` goes into the JWKS."""

    __slots__ = ("_key", "alg", "kid", "public_key")

    def __init__(self, key: Key, *, alg: str, kid: str) -> None:
        self._key = key
        self.alg = alg
        self.kid = kid
        self.public_key = PublicKey(JWKRegistry.import_key(_public_members(key)), alg=alg, kid=kid)

    @classmethod
    def generate(cls, alg: str = "EdDSA", *, kid: str | None = None) -> SigningKey:
        """A fresh key: Ed25519 for ``EdDSA`` (the default), P-256 for ``ES256``. ``kid`` defaults to the RFC 7638
        thumbprint."""
        if alg == "EdDSA":
            native: Any = ed25519.Ed25519PrivateKey.generate()
        elif alg == "ES256":
            native = ec.generate_private_key(ec.SECP256R1())
        else:
            raise InvalidKey(f"keys are generated for {', '.join(GENERATED_ALGORITHMS)} only", field="alg")
        return cls.from_jwk(_native_to_jwk(native, private=True), alg=alg, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, alg: str | None = None, kid: str | None = None) -> SigningKey:
        """Import a private JWK."""
        if not isinstance(jwk, Mapping) or "d" not in jwk:
            raise InvalidKey("a signing key needs the private member 'd'", field="jwk")
        _check_use(jwk, "sign")
        key, chosen = _import_key(jwk, alg)
        return cls(key, alg=chosen, kid=_kid(jwk, kid, key))

    @classmethod
    def from_pem(
        cls, pem: bytes | str, *, alg: str | None = None, kid: str | None = None, password: bytes | None = None
    ) -> SigningKey:
        """Import a PEM ``PRIVATE KEY`` (PKCS #8), optionally encrypted."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            native = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise InvalidKey("not a PEM private key, or the wrong password", field="pem") from exc
        return cls.from_jwk(_native_to_jwk(native, private=True), alg=alg, kid=kid)

    def private_pem(self, password: bytes | None = None) -> bytes:
        """The private key as PKCS #8 PEM, encrypted with ``password`` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        native: Any = self._key.private_key
        pem: bytes = native.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        return pem

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


def import_jwks(
    document: str | bytes | Mapping[str, Any], *, max_bytes: int = 65536, max_keys: int = 64
) -> tuple[PublicKey, ...]:
    """Import a JWK Set (RFC 7517 §5) of public verification keys, with caps on its size and key count.

    Keys of a type we do not understand are skipped (RFC 7517 §5); any other bad key, a duplicate ``kid`` or an
    empty set is refused.
    """
    if isinstance(document, str | bytes):
        if len(document) > max_bytes:
            raise InvalidKey(f"the JWKS is larger than {max_bytes} bytes", field="jwks")
        try:
            parsed = parse_json_object(document.encode() if isinstance(document, str) else document, "JWKS")
        except JoseError as exc:
            raise InvalidKey(exc.message, field="jwks") from exc
    else:
        parsed = dict(document)
    members = parsed.get("keys")
    if not isinstance(members, list) or not members:
        raise InvalidKey("a JWKS needs a non-empty 'keys' array", field="jwks")
    if len(members) > max_keys:
        raise InvalidKey(f"the JWKS holds more than {max_keys} keys", field="jwks")
    keys: list[PublicKey] = []
    for member in members:
        if isinstance(member, Mapping) and not _understood(member.get("kty")):
            continue
        keys.append(PublicKey.from_jwk(member))
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise InvalidKey("two keys in the JWKS share a kid", field="jwks")
    if not keys:
        raise InvalidKey("the JWKS holds no usable key", field="jwks")
    return tuple(keys)


def export_jwks(keys: Iterable[PublicKey]) -> dict[str, list[dict[str, Any]]]:
    """A JWK Set document of the given public keys."""
    return {"keys": [key.to_jwk() for key in keys]}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url (only the required members count)."""
    members = _PUBLIC_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(k), str) for k in members):
        raise InvalidKey("a thumbprint needs an OKP, EC or RSA public key with its required members", field="jwk")
    return _rfc7638_thumbprint({"kty": jwk["kty"], **{k: jwk[k] for k in members}})


def certificate_thumbprint(der: bytes) -> str:
    """The ``x5t#S256`` of a DER certificate (RFC 8705 §3.1): base64url SHA-256, no padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


# -- compact JWS --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A parsed, NOT yet verified, compact JWS."""

    header: Mapping[str, Any]
    payload: bytes
    signing_input: bytes  #: ``BASE64URL(header) '.' BASE64URL(payload)``, the bytes the signature covers
    signature: bytes

    @property
    def alg(self) -> str:
        alg: str = self.header["alg"]
        return alg

    @property
    def kid(self) -> str | None:
        kid: str | None = self.header.get("kid")
        return kid


def parse_compact(token: str, limits: Limits = DEFAULT_LIMITS) -> CompactJWS:
    """Split and decode a compact JWS, refusing what this layer does not support. Verifies nothing.

    Raises:
        JoseError: oversized, not three non-empty base64url parts, a header that is not a JSON object with a
            string ``alg``, a ``crit`` or ``b64`` header, a ``kid`` or ``typ`` that is not a string.
    """
    if not isinstance(token, str) or not token:
        raise JoseError("the token is empty")
    if len(token) > limits.max_token_bytes:
        raise JoseError(f"the token is larger than {limits.max_token_bytes} bytes")
    if not token.isascii():
        raise JoseError("the token is not a compact JWS: it holds non-ASCII characters")
    parts = token.split(".")
    if len(parts) == 5:
        raise JoseError("encrypted tokens (JWE) are not accepted")
    if len(parts) != 3:
        raise JoseError("the token is not a compact JWS: it needs three dot-separated parts")
    # An empty payload part is an empty payload (RFC 7515 §3.1), never detached content (Appendix F): we supply
    # none, so a signature made over detached content fails against the empty payload.
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64:
        raise JoseError("the token has no header")
    if not signature_b64:
        raise JoseError("the token is not signed")
    if len(header_b64) > (limits.max_header_bytes * 4 + 2) // 3:
        raise JoseError(f"the token header is larger than {limits.max_header_bytes} bytes")
    header = _HEADERS.get(header_b64)
    if header is None:
        header = MappingProxyType(parse_json_object(_b64decode(header_b64, "header"), "header"))
        if all(isinstance(value, str) for value in header.values()):  # nothing nested that a caller could alter
            if len(_HEADERS) >= _HEADERS_MAX:
                _HEADERS.clear()
            _HEADERS[header_b64] = header
    _check_header(header, limits)
    return CompactJWS(
        header=header,
        payload=_b64decode(payload_b64, "payload"),
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=_b64decode(signature_b64, "signature"),
    )


def verify_signature(key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """The signature primitive: True only if ``alg`` is the key's own algorithm and the signature verifies."""
    if alg != key.alg or alg not in _ALG_MODELS:
        return False
    try:
        return bool(_ALG_MODELS[alg].verify(signing_input, signature, key._key))
    except Exception:  # fail closed: a primitive that raises has verified nothing
        return False


def verify_compact(
    token: str | CompactJWS, key: PublicKey, algorithms: Collection[str], limits: Limits = DEFAULT_LIMITS
) -> CompactJWS:
    """Parse (if needed) and verify a compact JWS against ONE key and an explicit list of algorithms.

    The header's ``alg`` must be in ``algorithms``, in ``ALGORITHMS``, and equal to the key's own ``alg``.

    Raises:
        JoseError: parse failure, an algorithm not allowed or not the key's, or a bad signature.
    """
    jws = token if isinstance(token, CompactJWS) else parse_compact(token, limits)
    alg = jws.alg
    if alg not in algorithms or alg not in ALGORITHMS:
        raise JoseError("the signing algorithm is not allowed")
    if alg != key.alg:
        raise JoseError("the signing algorithm is not the key's algorithm")
    if not verify_signature(key, alg, jws.signing_input, jws.signature):
        raise JoseError("the signature does not verify")
    return jws


def sign_compact(
    payload: bytes,
    key: SigningKey,
    *,
    typ: str | None,
    include_kid: bool = True,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``payload`` into a compact JWS with the protected header ``{"alg", "kid", "typ"}`` of ``key``.

    ``typ`` is explicit (``"at+jwt"`` for access tokens, RFC 9068 §2.1; ``None`` to omit it). ``extra_header``
    adds members (a DPoP proof's ``jwk``, RFC 9449 §4.2) but cannot replace ``alg``, ``kid`` or ``typ``.
    """
    header: dict[str, Any] = {"alg": key.alg}
    if include_kid:
        header["kid"] = key.kid
    if typ is not None:
        header["typ"] = typ
    if extra_header:
        if not {"alg", "kid", "typ"}.isdisjoint(extra_header):
            raise ValueError("extra_header cannot set alg, kid or typ")
        header.update(extra_header)
    header_b64 = urlsafe_b64encode(json.dumps(header, separators=(",", ":")).encode())
    signing_input = header_b64 + b"." + urlsafe_b64encode(payload)
    signature = _ALG_MODELS[key.alg].sign(signing_input, key._key)
    return (signing_input + b"." + urlsafe_b64encode(signature)).decode("ascii")


def sign_jwt(claims: Mapping[str, Any], key: SigningKey, *, typ: str) -> str:
    """Sign a JWT claims set (RFC 7519) as a compact JWS."""
    return sign_compact(json.dumps(claims, separators=(",", ":")).encode(), key, typ=typ)


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes, refusing duplicate members (RFC 7515 §5.2 step 4, RFC 7519 §4) and what is
    not JSON but Python's parser reads (RFC 8259 §6: ``NaN``, ``Infinity``, and numbers beyond a double's range,
    which it would turn into an infinity)."""
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise JoseError(f"the {what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise JoseError(f"the {what} is not a JSON object")
    return value


# -- helpers ------------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 §6; Python's json reads NaN, Infinity and -Infinity


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: beyond the range of a double
        raise ValueError("a number beyond the range of a double")
    return value


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)


def _b64decode(segment: str, what: str) -> bytes:
    try:
        return urlsafe_b64decode(segment.encode("ascii"))
    except (ValueError, binascii.Error) as exc:
        raise JoseError(f"the token {what} is not valid base64url") from exc


def _check_header(header: Mapping[str, Any], limits: Limits) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise JoseError("the token header has no algorithm (alg)")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit lists an extension it does not understand;
        # we implement none.
        raise JoseError("critical header extensions (crit) are not supported")
    if "b64" in header:
        raise JoseError("unencoded payloads (b64, RFC 7797) are not accepted")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > limits.max_kid_chars):
        raise JoseError("the token key id (kid) is not a short non-empty string")
    if "typ" in header and not isinstance(header["typ"], str):
        raise JoseError("the token type (typ) is not a string")


def _understood(kty: object) -> bool:
    """A key type this layer imports, or refuses by name (``oct``); any other value (an unknown name, a number, an
    array) is one a JWKS member may carry and be skipped for (RFC 7517 §5)."""
    return isinstance(kty, str) and (kty in _PUBLIC_MEMBERS or kty == "oct")


def _check_use(jwk: Mapping[str, Any], operation: str) -> None:
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise InvalidKey("the key is not meant for signatures (use)", field="jwk")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or operation not in key_ops):
        raise InvalidKey(f"the key's key_ops do not include '{operation}'", field="jwk")


def _import_key(jwk: Mapping[str, Any], alg: str | None) -> tuple[Key, str]:
    """Import the key members only, and settle the algorithm: explicit, the JWK's ``alg``, or from the curve."""
    kty = jwk.get("kty")
    if kty == "oct":
        raise InvalidKey("symmetric (oct) keys are not accepted", field="jwk")
    if not isinstance(kty, str) or kty not in _PUBLIC_MEMBERS:
        raise InvalidKey("the key type (kty) is not supported", field="jwk")
    declared = jwk.get("alg")
    if alg is not None and declared is not None and alg != declared:
        raise InvalidKey("the key's alg differs from the algorithm asked for", field="alg")
    chosen = alg or declared or _default_alg(kty, jwk.get("crv"))
    if not isinstance(chosen, str) or chosen not in ALGORITHMS:
        raise InvalidKey("the key's algorithm is not supported", field="alg")
    members = {k: jwk[k] for k in (*_PUBLIC_MEMBERS[kty], "d") if k in jwk}
    if kty == "RSA" and _rsa_bits(members.get("n")) < MIN_RSA_BITS:
        raise InvalidKey(f"RSA keys need at least {MIN_RSA_BITS} bits", field="jwk")
    if kty == "RSA" and "d" in jwk:
        members.update({k: jwk[k] for k in ("p", "q", "dp", "dq", "qi") if k in jwk})
    try:
        key = JWKRegistry.import_key({"kty": kty, **members})
        _ALG_MODELS[chosen].check_key(key)
    except (_JoseRfcError, ValueError, TypeError, KeyError) as exc:
        raise InvalidKey("the key does not fit its algorithm, or its members are malformed", field="jwk") from exc
    if isinstance(key, OKPKey) and key.curve_name != "Ed25519":
        raise InvalidKey("only Ed25519 OKP keys are accepted", field="jwk")
    return key, chosen


def _rsa_bits(n: object) -> int:
    """The modulus size, checked before joserfc sees the key (it only warns about small ones)."""
    if not isinstance(n, str):
        return 0
    try:
        return int.from_bytes(urlsafe_b64decode(n.encode("ascii")), "big").bit_length()
    except (ValueError, UnicodeEncodeError):
        return 0


def _default_alg(kty: str, crv: object) -> str:
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    if kty == "EC" and isinstance(crv, str) and crv in _EC_ALGS:
        return _EC_ALGS[crv]
    if kty == "RSA":
        raise InvalidKey("an RSA key needs an explicit alg (RS256, PS256, ...)", field="alg")
    raise InvalidKey("the key's curve (crv) is not supported", field="jwk")


def _kid(jwk: Mapping[str, Any], kid: str | None, key: Key) -> str:
    chosen = kid if kid is not None else jwk.get("kid")
    if chosen is None:
        return key.thumbprint()
    if not isinstance(chosen, str) or not chosen or len(chosen) > DEFAULT_LIMITS.max_kid_chars:
        raise InvalidKey("a kid must be a short non-empty string", field="kid")
    return chosen


def _public_members(key: Key) -> dict[str, Any]:
    data = key.as_dict(private=False)
    return {"kty": data["kty"], **{k: data[k] for k in _PUBLIC_MEMBERS[key.key_type]}}


def _native_to_jwk(native: Any, *, private: bool) -> dict[str, Any]:
    """A ``cryptography`` key object as a JWK dict, through joserfc's key classes."""
    if isinstance(native, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        wrapped: Key = OKPKey(native, native)
    elif isinstance(native, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        wrapped = ECKey(native, native)
    elif isinstance(native, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        wrapped = RSAKey(native, native)
    else:
        raise InvalidKey("the key type is not supported (Ed25519, EC or RSA)", field="pem")
    return dict(wrapped.as_dict(private=private))
