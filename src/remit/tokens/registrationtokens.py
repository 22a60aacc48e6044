"""Initial access tokens for dynamic client registration (RFC 7591 §3): an admin mints one for an owner (or for any
owner), and whoever holds it may register that owner's agents at ``/oauth/register``, until it expires, is revoked
or has been used ``max_uses`` times.

Values are opaque, ``remit_reg_<43 characters>`` (256 random bits), shown once and stored as a SHA-256 digest, as
admin tokens are: a slow hash buys nothing against guessing 256 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from remit.ids import looks_like_secret, new_secret, secret_digest

TOKEN_PREFIX: Final = "remit_reg"  # noqa: S105 - a public prefix, not a secret
#: the longest a registration token may live: it is meant for one onboarding, not a standing credential
MAX_LIFETIME_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class RegistrationToken:
    """A stored initial access token: everything but its value."""

    id: str
    name: str
    owner: str | None  #: the owner of every agent it registers; None: any owner the request names
    digest: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    max_uses: int | None = None  #: None: as many as it is used before it expires
    use_count: int = 0
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def status(self, now: datetime) -> str:
        """``revoked``, ``expired``, ``used`` (every use spent) or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.max_uses is not None and self.use_count >= self.max_uses:
            return "used"
        return "active"


def mint_secret() -> str:
    return new_secret(TOKEN_PREFIX)


def digest(value: str) -> str:
    return secret_digest(value)


def looks_like_token(value: str) -> bool:
    return looks_like_secret(value, TOKEN_PREFIX)
