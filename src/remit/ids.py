"""Identifiers: URL-safe, prefixed by kind so that a stray id in a log says what it is, and time-ordered.

A default id is ``<prefix>_`` + 7 characters of the wall clock's milliseconds + 16 characters of 96 random bits
(``dec_0Qb3xYz...``). The time part sorts as text in the order it was made (within the clock's own accuracy), so
that ids inserted into an index land beside the last ones: the audit log's unique index on record ids is written
at every decision, and random keys there scatter each batch over the whole index (at 200k records on SQLite, a
random-keyed unique index costs ~25 µs an insert against ~0 for ordered keys, and it grows with the table). Ids
are not a clock: they are only roughly ordered (clocks step back), never compared for time, and unique by their
random part alone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
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


#: 64 URL-safe characters in ASCII order, so that the time part of an id sorts as text; 7 of them hold 42 bits of
#: milliseconds since 1970, which lasts until 2109
_SORTABLE = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_TIME_CHARS = 7


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def time_text(ms: int) -> str:
    """The time part of an id made at ``ms`` milliseconds since 1970."""
    return "".join(_SORTABLE[(ms >> shift) & 63] for shift in range(6 * (_TIME_CHARS - 1), -1, -6))


class _IdTexts(threading.local):
    """The text of default-sized ids (12 random bytes, 16 characters), encoded 341 at a time, per thread (nothing
    shared, so no lock: a lock alone costs more than the rest of an id).

    12 bytes are four whole base64 groups, so the base64 text of 4,092 bytes is the texts of their 341 12-byte
    pieces laid end to end: each slice of it is one id's text, exactly as if its bytes had been encoded alone.
    """

    def __init__(self) -> None:
        self.next: Callable[[], str] = iter(()).__next__
        self.ms = -1  #: the millisecond of ``stamp``
        self.stamp = ""  #: its time part


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
    """An identifier such as ``evt_0Qb3xYz3q2...``, its time part then ``nbytes`` random bytes; not a secret
    (secrets use ``new_secret``)."""
    texts = _texts
    ms = _now_ms()
    if ms != texts.ms:
        texts.ms, texts.stamp = ms, time_text(ms)
    if nbytes == _ID_BYTES:  # every id on the decision path
        try:
            text = texts.next()
        except StopIteration:
            texts.next = take = _id_texts()
            text = take()
        return f"{prefix}_{texts.stamp}{text}"
    raw = b2a_base64(_pool.take(nbytes), newline=False).translate(_URLSAFE).rstrip(b"=")  # URL-safe base64
    return f"{prefix}_{texts.stamp}{raw.decode('ascii')}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A high-entropy bearer secret such as ``remit_adm_...`` (256 bits by default)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def secret_digest(value: str) -> str:
    """What is stored of a ``new_secret`` value: its SHA-256, in hex (a slow hash buys nothing against 256 bits)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def looks_like_secret(value: str, prefix: str) -> bool:
    """Whether ``value`` could be a ``new_secret`` of ``prefix``: checked before any lookup."""
    return value.startswith(prefix + "_") and 20 <= len(value) <= 200
