"""Identifiers: random, URL-safe, prefixed by kind so that a stray id in a log says what it is."""

from __future__ import annotations

import secrets


def new_id(prefix: str, nbytes: int = 12) -> str:
    """A random identifier such as ``evt_3q2...``; not a secret."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A high-entropy bearer secret such as ``remit_adm_...`` (256 bits by default)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"
