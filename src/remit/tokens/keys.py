"""Token signing keys: Ed25519 (``EdDSA``, RFC 8037) or ECDSA P-256 (``ES256``, RFC 7518 §3.4), their public JWKs
(RFC 7517) named by their RFC 7638 thumbprint, JWS signatures, and the rotation rules. Pure: no I/O.

The rotation rules:

* exactly one key is active; it signs every new token;
* rotating makes a new key active and retires the old one, which keeps verifying until ``verify_until`` =
  retirement + the longest token lifetime + clock leeway, when the last token it signed has expired; its private
  half is not needed any more and is erased at retirement;
* revoking (a rotation after a compromise) sets ``verify_until`` to the retirement itself: every token the old
  key signed stops verifying at once;
* a key past ``verify_until`` leaves the JWKS and verification;
* the active key is rotated automatically once it is older than the rotation period.

https://www.rfc-editor.org/rfc/rfc7517 · https://www.rfc-editor.org/rfc/rfc7638 · https://www.rfc-editor.org/rfc/rfc8037
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

Alg = Literal["EdDSA", "ES256"]
ALGORITHMS: tuple[Alg, ...] = get_args(Alg)
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey

#: verifiers accept a token this long past its ``exp`` (clock skew), so a retired key verifies this much longer
CLOCK_LEEWAY = timedelta(seconds=60)
#: bytes of one P-256 coordinate, and of each half (r, s) of an ES256 signature (RFC 7518 §3.4)
P256_BYTES = 32


class KeyStatus(StrEnum):
    ACTIVE = "active"  #: signs new tokens; exactly one at a time
    RETIRED = "retired"  #: verifies until ``verify_until``; signs nothing
    EXPIRED = "expired"  #: retired and past ``verify_until``: verifies nothing (derived, never stored)


# -- encoding -------------------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not text or "=" in text or not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public: PublicKey) -> dict[str, str]:
    """The JWK members that define ``public``: what RFC 7638 hashes (RFC 8037 §2 for OKP, RFC 7518 §6.2.1 for EC)."""
    if isinstance(public, Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    numbers = public.public_numbers()
    if not isinstance(numbers.curve, ec.SECP256R1):
        raise ValueError("only P-256 EC keys are supported")
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(P256_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(P256_BYTES, "big")),
    }


#: the members RFC 7638 §3.2 hashes, per key type
_REQUIRED = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: base64url(SHA-256(the required members, in lexicographic order, as JSON without whitespace))."""
    members = _REQUIRED.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"no thumbprint for key type {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[Alg, PublicKey]:
    """The algorithm and key a public JWK of ours describes; ``ValueError`` for anything else (a private member,
    another curve, a point off the curve, a ``kid`` that is not the thumbprint)."""
    if "d" in jwk:
        raise ValueError("a public JWK must not hold a private member")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    public: PublicKey
    if (kty, crv) == ("OKP", "Ed25519"):
        alg: Alg = "EdDSA"
        public = Ed25519PublicKey.from_public_bytes(unb64url(str(jwk.get("x", ""))))
    elif (kty, crv) == ("EC", "P-256"):
        alg = "ES256"
        x, y = (unb64url(str(jwk.get(c, ""))) for c in ("x", "y"))
        if len(x) != P256_BYTES or len(y) != P256_BYTES:
            raise ValueError("P-256 coordinates are 32 bytes")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1())
        public = numbers.public_key()  # refuses a point that is not on the curve
    else:
        raise ValueError(f"unsupported key: kty={kty!r} crv={crv!r}")
    if jwk.get("alg", alg) != alg:
        raise ValueError(f"alg {jwk.get('alg')!r} does not fit a {crv} key")
    if "kid" in jwk and jwk["kid"] != thumbprint(public_jwk(public)):
        raise ValueError("kid is not the key's RFC 7638 thumbprint")
    return alg, public


# -- keys and signatures --------------------------------------------------------------------------------------------


def generate(alg: Alg) -> PrivateKey:
    """A new private key for ``alg``."""
    if alg == "EdDSA":
        return Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def sign_eddsa(private: Ed25519PrivateKey, payload: bytes) -> bytes:
    """An Ed25519 signature (64 bytes), as JWS ``EdDSA`` carries it (RFC 8037 §3.1)."""
    return private.sign(payload)


def sign_es256(private: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    """An ECDSA P-256 / SHA-256 signature as JWS needs it: the raw ``r || s``, 32 bytes each (RFC 7518 §3.4), not
    the DER that ``cryptography`` returns."""
    r, s = decode_dss_signature(private.sign(payload, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")


def sign(private: PrivateKey, payload: bytes) -> bytes:
    """The JWS signature of ``payload`` (the signing input ``header.payload``) with ``private``."""
    if isinstance(private, Ed25519PrivateKey):
        return sign_eddsa(private, payload)
    return sign_es256(private, payload)


def verify_signature(public: PublicKey, payload: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (JWS form) is ``public``'s over ``payload``."""
    try:
        if isinstance(public, Ed25519PublicKey):
            public.verify(signature, payload)
            return True
        if len(signature) != 2 * P256_BYTES:
            return False
        r = int.from_bytes(signature[:P256_BYTES], "big")
        s = int.from_bytes(signature[P256_BYTES:], "big")
        public.verify(encode_dss_signature(r, s), payload, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def private_der(private: PrivateKey) -> bytes:
    """PKCS #8 DER: what the key-encryption key seals."""
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_from_der(data: bytes, expected: PublicKey) -> PrivateKey:
    """The private key in ``data``; ``ValueError`` unless it is the private half of ``expected``."""
    key = serialization.load_der_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("not an Ed25519 or EC private key")
    if public_jwk(key.public_key()) != public_jwk(expected):
        raise ValueError("the private key is not the one of this public key")
    return key


# -- keys with their life cycle -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A signing key's public half and life cycle: what the JWKS publishes and verifiers use."""

    kid: str  #: the RFC 7638 thumbprint of the public key
    alg: Alg
    public: PublicKey = field(compare=False)
    status: KeyStatus  #: as stored: active or retired (see ``state_at`` for expired)
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    verify_until: datetime | None = None  #: None while active

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK as published: key members, ``kid``, ``alg``, ``use``. Never a private member."""
        return {**public_jwk(self.public), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def verifies_at(self, now: datetime) -> bool:
        """Whether signatures by this key are accepted at ``now``."""
        if self.status is KeyStatus.ACTIVE:
            return True
        return self.verify_until is not None and now < self.verify_until

    def state_at(self, now: datetime) -> KeyStatus:
        if self.status is KeyStatus.ACTIVE:
            return KeyStatus.ACTIVE
        return KeyStatus.RETIRED if self.verifies_at(now) else KeyStatus.EXPIRED

    def verify(self, payload: bytes, signature: bytes) -> bool:
        """The signature check alone; whether the key still verifies (``verifies_at``) is the caller's question."""
        return verify_signature(self.public, payload, signature)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], **life: Any) -> VerificationKey:
        """From a stored public JWK; its ``kid``, if it has one, must be its thumbprint (``ValueError`` otherwise)."""
        alg, public = public_key_from_jwk(jwk)
        return cls(kid=thumbprint(public_jwk(public)), alg=alg, public=public, **life)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key with its private half, in memory only."""

    public: VerificationKey
    private: PrivateKey = field(repr=False, compare=False)

    @property
    def kid(self) -> str:
        return self.public.kid

    @property
    def alg(self) -> Alg:
        return self.public.alg

    def sign(self, payload: bytes) -> bytes:
        """The JWS signature over ``payload`` (``base64url(header) "." base64url(claims)``)."""
        return sign(self.private, payload)

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r})"


def new_key(alg: Alg, now: datetime) -> SigningKey:
    """A fresh active key."""
    private = generate(alg)
    public = private.public_key()
    key = VerificationKey(
        kid=thumbprint(public_jwk(public)),
        alg=alg,
        public=public,
        status=KeyStatus.ACTIVE,
        created_at=now,
        activated_at=now,
    )
    return SigningKey(public=key, private=private)


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """When keys rotate and how long a retired key keeps verifying."""

    rotate_after: timedelta  #: the active key's age at which it is replaced automatically
    max_token_lifetime: timedelta  #: the longest lifetime of a token any key signs
    leeway: timedelta = CLOCK_LEEWAY

    def verify_until(self, retired_at: datetime) -> datetime:
        # A token signed just before retirement lives at most max_token_lifetime, and verifiers accept it for the
        # leeway after its exp: past that, nothing the key signed can still verify.
        return retired_at + self.max_token_lifetime + self.leeway

    def due(self, active: VerificationKey, now: datetime) -> bool:
        """Whether ``active`` is old enough to be rotated automatically."""
        since = active.activated_at or active.created_at
        return now - since >= self.rotate_after

    def retire(self, key: VerificationKey, now: datetime, *, revoke: bool = False) -> VerificationKey:
        """``key`` retired at ``now``; ``revoke``: it stops verifying at once."""
        if key.status is not KeyStatus.ACTIVE:
            raise ValueError(f"key {key.kid} is not active")
        until = now if revoke else self.verify_until(now)
        return replace(key, status=KeyStatus.RETIRED, retired_at=now, verify_until=until)


def published(keys: Iterable[VerificationKey], now: datetime) -> tuple[VerificationKey, ...]:
    """The keys that verify at ``now``: the active one first, then the others newest first."""
    live = [k for k in keys if k.verifies_at(now)]
    live.sort(key=lambda k: (k.status is not KeyStatus.ACTIVE, -(k.activated_at or k.created_at).timestamp()))
    return tuple(live)


def jwk_set(keys: Iterable[VerificationKey], now: datetime) -> dict[str, list[dict[str, str]]]:
    """The JWK Set (RFC 7517 §5) of the keys that verify at ``now``."""
    return {"keys": [k.jwk for k in published(keys, now)]}
