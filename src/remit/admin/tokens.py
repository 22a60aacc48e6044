"""Admin bearer tokens: opaque, random, shown once, stored as a SHA-256 digest.

The tokens carry 256 bits of randomness, so a fast digest is enough (a slow password hash buys nothing
against guessing and costs every request). The lookup compares digests, never the token itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from remit.admin.access import AdminRole
from remit.ids import looks_like_secret, new_secret, secret_digest

TOKEN_PREFIX = "remit_adm"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class AdminToken:
    """A stored admin token: everything but the secret."""

    id: str
    name: str
    role: AdminRole
    user_id: str | None
    digest: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def mint_secret() -> str:
    """A new token value; the caller shows it once and stores only ``digest(value)``."""
    return new_secret(TOKEN_PREFIX)


def digest(value: str) -> str:
    return secret_digest(value)


def looks_like_token(value: str) -> bool:
    return looks_like_secret(value, TOKEN_PREFIX)
