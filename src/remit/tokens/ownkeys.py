"""Remit's own signing keys as a ``KeyLookup``: what every verifier inside a Remit process uses (introspection,
revocation, the CLI's ``remit token inspect``, a gateway in the same process).

``OwnKeys`` asks the signing key service which keys verify now and hands out their ``jose.PublicKey``, built once
per ``kid`` (a ``kid`` is the key's RFC 7638 thumbprint, so the same ``kid`` is always the same key). Its
``generation()`` is the set of ``kid`` values that verify, so that a ``VerifiedCache`` over it forgets every
token when a key is made or revoked.
"""

from __future__ import annotations

import threading
from typing import Protocol

from remit.tokens import jose
from remit.tokens.errors import JoseError
from remit.tokens.keys import VerificationKey

#: at most this many converted keys are kept (far more than ever verify at once)
MAX_CONVERTED = 64


class SigningKeys(Protocol):
    """What ``OwnKeys`` needs of the signing key service."""

    def find(self, kid: str) -> VerificationKey | None: ...
    def generation(self) -> frozenset[str]: ...


class OwnKeys:
    """The ``KeyLookup`` (and ``KeyGeneration``) of Remit's own signing keys: those that verify now."""

    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys
        self._converted: dict[str, jose.PublicKey] = {}
        self._lock = threading.Lock()

    def find(self, kid: str) -> jose.PublicKey | None:
        found = self._keys.find(kid)  # None once the key no longer verifies
        if found is None:
            return None
        public = self._converted.get(kid)
        if public is not None:
            return public
        try:
            public = jose.PublicKey.from_jwk(found.jwk)
        except JoseError:  # pragma: no cover - Remit's own keys are always importable
            return None
        with self._lock:
            if len(self._converted) >= MAX_CONVERTED:
                self._converted.clear()
            self._converted[kid] = public
        return public

    def generation(self) -> frozenset[str]:
        return self._keys.generation()
