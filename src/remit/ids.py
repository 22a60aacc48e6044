"""Identifiers: random, URL-safe, prefixed by kind so that a stray id in a log says what it is."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from binascii import b2a_base64

#: random bytes for ids, read from the OS 4 KiB at a time: one system call per ~340 ids rather than one per id
_POOL_BYTES = 4096
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class _RandomPool:
    """Bytes from ``os.urandom``, handed out once each (under a lock: ids are made on several threads).

    A forked child starts with an empty pool, so that parent and child never hand out the same bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            at = self._at
            if at + n > len(self._buffer):
                self._buffer, at = os.urandom(max(_POOL_BYTES, n)), 0
            self._at = at + n
            return self._buffer[at : at + n]

    def reset(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._buffer, self._at = b"", 0


_pool = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.reset)


def new_id(prefix: str, nbytes: int = 12) -> str:
    """A random identifier such as ``evt_3q2...``; not a secret (secrets use ``new_secret``)."""
    text = b2a_base64(_pool.take(nbytes), newline=False).translate(_URLSAFE).rstrip(b"=")  # URL-safe base64
    return f"{prefix}_{text.decode('ascii')}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A high-entropy bearer secret such as ``remit_adm_...`` (256 bits by default)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def secret_digest(value: str) -> str:
    """What is stored of a ``new_secret`` value: its SHA-256, in hex (a slow hash buys nothing against 256 bits)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def looks_like_secret(value: str, prefix: str) -> bool:
    """Whether ``value`` could be a ``new_secret`` of ``prefix``: checked before any lookup."""
    return value.startswith(prefix + "_") and 20 <= len(value) <= 200
