"""Remit's audit signing key: Ed25519, kept in ``<home>/keys/audit-signing.pem`` (mode 0600) or given by the
environment, used to sign chain checkpoints. Verification needs only the public key, which ``remit audit key``
prints and which may be handed to an auditor.

The private key never leaves this module's objects and is never logged. The token service's signing keys will
join it later; this module is the one place audit code touches key material.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from remit.errors import ConfigurationError

KEY_FILE = "audit-signing.pem"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id_of(public: Ed25519PublicKey) -> str:
    """A short, stable id: the first 16 hex digits of the SHA-256 of the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PublicKey:
    key_id: str
    key: Ed25519PublicKey

    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, payload: bytes, signature: str, key_id: str) -> bool:
        if key_id != self.key_id:
            return False
        try:
            self.key.verify(_unb64(signature), payload)
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def from_pem(cls, data: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise ConfigurationError("the public key is not a PEM-encoded key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigurationError("the audit public key must be an Ed25519 key")
        return cls(key_id_of(key), key)


class SigningKey:
    """The private half; ``sign`` returns a base64url signature."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = PublicKey(key_id_of(private.public_key()), private.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, payload: bytes) -> str:
        return _b64(self._private.sign(payload))

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, directory: Path) -> SigningKey:
        """The key in ``directory/audit-signing.pem``, created (mode 0600, directory 0700) if absent."""
        path = directory / KEY_FILE
        if path.exists():
            return cls.from_pem(path.read_bytes(), source=str(path))
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "the audit signing key") -> SigningKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{source} is not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"{source} must be an Ed25519 key")
        return cls(key)
