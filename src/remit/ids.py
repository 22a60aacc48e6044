"""Identifiers: random, URL-safe, prefixed by kind so that a stray id in a log says what it is."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from binascii import b2a_base64
from collections.abc import Callable

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


class _IdTexts(threading.local):
    """The text of default-sized ids (12 random bytes, 16 characters), encoded 341 at a time, per thread (nothing
    shared, so no lock: a lock alone costs more than the rest of an id).

    12 bytes are four whole base64 groups, so the base64 text of 4,092 bytes is the texts of their 341 12-byte
    pieces laid end to end: each slice of it is one id's text, exactly as if its bytes had been encoded alone.
    """

    def __init__(self) -> None:
        self.next: Callable[[], str] = iter(()).__next__


def _id_texts() -> Callable[[], str]:
    raw = os.urandom(_ID_BYTES * (_POOL_BYTES // _ID_BYTES))
    text = b2a_base64(raw, newline=False).translate(_URLSAFE).decode("ascii")
    return iter([text[at : at + _ID_CHARS] for at in range(0, len(text), _ID_CHARS)]).__next__


def _reset_in_child() -> None:
    global _texts  # a forked child must not hand out its parent's unused ids
    _pool.reset()
    _texts = _IdTexts()


_ID_BYTES, _ID_CHARS = 12, 16
_pool = _RandomPool()
_texts = _IdTexts()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def new_id(prefix: str, nbytes: int = _ID_BYTES) -> str:
    """A random identifier such as ``evt_3q2...``; not a secret (secrets use ``new_secret``)."""
    if nbytes == _ID_BYTES:  # every id on the decision path
        try:
            text = _texts.next()
        except StopIteration:
            _texts.next = take = _id_texts()
            text = take()
        return f"{prefix}_{text}"
    raw = b2a_base64(_pool.take(nbytes), newline=False).translate(_URLSAFE).rstrip(b"=")  # URL-safe base64
    return f"{prefix}_{raw.decode('ascii')}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A high-entropy bearer secret such as ``remit_adm_...`` (256 bits by default)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def secret_digest(value: str) -> str:
    """What is stored of a ``new_secret`` value: its SHA-256, in hex (a slow hash buys nothing against 256 bits)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def looks_like_secret(value: str, prefix: str) -> bool:
    """Whether ``value`` could be a ``new_secret`` of ``prefix``: checked before any lookup."""
    return value.startswith(prefix + "_") and 20 <= len(value) <= 200
