"""Legacy static API keys: a discouraged way for an agent to authenticate at the token endpoint, kept for callers
that cannot sign a client assertion yet.

A key is ``remit_apikey_<id>_<secret>``: ``id`` (16 hex digits, not secret) finds the row, and ``secret`` (256 random
bits) is checked against an argon2id hash; the value itself is shown once and never stored. Every key expires;
every use is flagged in the audit log and counted, so that owners can be walked to a key pair or a certificate
(``remit keys migrate``).

The key is a client secret in the sense of RFC 6749 §2.3.1: it is accepted at ``/oauth/token`` only, through
``client_secret_basic`` or ``client_secret_post``, and buys a normal short-lived access token, so that it never
reaches a resource.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: every key value starts with this (and the audit log masks the secret after the id, wherever it appears)
KEY_PREFIX: Final = "remit_apikey_"
#: how many unrevoked legacy keys one agent may have: room to rotate, not a habit
MAX_ACTIVE_KEYS: Final = 3
#: the argon2id cost: OWASP's minimum (19 MiB, two passes), ~25 ms a check. The secret is 256 random bits, so the
#: hash guards a stolen table, not a guessable password; a heavier cost would only make each token request dearer.
_HASHER: Final = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_VALUE: Final = re.compile(r"^remit_apikey_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class LegacyApiKey:
    """A stored legacy key: everything but the secret, and its hash."""

    id: str  #: 16 hex digits, the lookup part of the value
    agent: str
    digest: str  #: the argon2id hash of the secret (PHC string)
    created_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    use_count: int = 0

    @property
    def prefix(self) -> str:
        """The non-secret beginning of the value, for people to recognise a key by."""
        return f"{KEY_PREFIX}{self.id}"

    def status(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"

    def usable(self, now: datetime) -> bool:
        return self.status(now) == "active"


def mint() -> tuple[str, str, str]:
    """A new key: its id, its full value (shown once) and the argon2id hash of its secret (stored)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 256 bits, 43 characters
    return key_id, f"{KEY_PREFIX}{key_id}_{secret}", _HASHER.hash(secret)


def split(value: str) -> tuple[str, str] | None:
    """The id and secret of a key value, or None when it is not shaped like one."""
    m = _VALUE.match(value)
    return (m.group(1), m.group(2)) if m else None


def verify(digest: str, secret: str) -> bool:
    """Whether ``secret`` matches the stored hash. Slow by design: call it off the event loop."""
    try:
        return _HASHER.verify(digest, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def waste_time(secret: str) -> None:
    """Check ``secret`` against a hash it cannot match: a request naming no key costs what one with a key does,
    so that timing tells nothing about which keys exist."""
    verify(_decoy(), secret)


@cache
def _decoy() -> str:
    return _HASHER.hash(secrets.token_urlsafe(32))
