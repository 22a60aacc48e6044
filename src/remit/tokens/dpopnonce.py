"""Server-provided DPoP nonces (RFC 9449 §8 and §9): a value the server hands out in a ``DPoP-Nonce`` header and
then requires in the ``nonce`` claim of proofs, so that a proof cannot have been made before the nonce existed.

``SealedNonces`` needs no shared state: a nonce is the time it was made, sealed (AES-256-GCM, associated data naming
its purpose) with the key-encryption key every server of one store already shares. Any server opens any other
server's nonce, and a nonce is accepted for ``lifetime`` seconds after it was made. A server makes one nonce per
half lifetime and hands the same one to every client meanwhile, so sealing stays rare.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, Protocol

from remit.clock import Clock
from remit.errors import ConfigurationError
from remit.tokens.kek import KeyEncryptionKey

#: the associated data of a sealed nonce: it opens for nothing else, and nothing else opens as a nonce
_CONTEXT: Final = "remit.dpop-nonce/v1"
#: a nonce longer than this is refused before it is opened
MAX_NONCE_CHARS: Final = 200
#: how far ahead of this server's clock another server's nonce may be (clock skew between servers)
_SKEW: Final = 5


class NonceSource(Protocol):
    """Hands out nonces and tells which ones are still good."""

    def current(self) -> str:
        """The nonce to give clients now."""
        ...

    def accepts(self, nonce: str) -> bool:
        """Whether ``nonce`` was made by this estate and is still fresh."""
        ...


class SealedNonces:
    """A ``NonceSource`` shared by every server holding the same key-encryption key."""

    def __init__(self, kek: Callable[[], KeyEncryptionKey], clock: Clock, *, lifetime: int = 300) -> None:
        if not 10 <= lifetime <= 3600:
            raise ConfigurationError("a DPoP nonce lives between 10 and 3600 seconds", field="lifetime")
        self._kek = kek
        self._clock = clock
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._made_at = -1
        self._nonce = ""

    def current(self) -> str:
        now = int(self._clock.now().timestamp())
        with self._lock:
            if now - self._made_at >= self.lifetime // 2 or now < self._made_at:
                self._nonce = self._kek().encrypt(now.to_bytes(8, "big"), context=_CONTEXT)
                self._made_at = now
            return self._nonce

    def accepts(self, nonce: str) -> bool:
        if not nonce or len(nonce) > MAX_NONCE_CHARS:
            return False
        try:
            made_at = int.from_bytes(self._kek().decrypt(nonce, context=_CONTEXT), "big")
        except ConfigurationError:  # another estate's key, damaged, or not a nonce at all
            return False
        now = self._clock.now().timestamp()
        return made_at - _SKEW <= now <= made_at + self.lifetime
