"""Revoked token ids held in memory, for a verifier on the hot path (a gateway): a membership test instead of a
database read per request.

``RevocationStore.is_revoked`` reads the store on every call, so a revocation anywhere applies on the very next
request everywhere, at the price of a read (about 160 µs on SQLite, more than a policy decision). A ``RevocationSet``
trades that for a bounded delay: it holds the unexpired revoked ``jti`` values, and re-reads them when the store's
revocations change, which it checks at most every ``interval`` seconds (one small read). So:

* a revocation made through this process (``noted``) applies here on the very next request;
* one made on another server of a PostgreSQL store applies here as soon as its ``NOTIFY`` arrives (``invalidate``);
  one made by the CLI, or while the notification listener is down, within ``interval`` (default 0.25 s);
* if the store cannot be read, the set it holds is used for two intervals more; after that every check raises
  ``StoreError`` (the caller answers 503): it fails closed rather than trust an old set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from remit.clock import Clock
from remit.errors import StoreError


class Revocations(Protocol):
    def marker(self) -> object: ...

    def active(self, now: datetime) -> frozenset[str]: ...


class RevocationSet:
    """An ``is_revoked`` hook over a ``RevocationStore``, kept in memory (see the module docstring)."""

    def __init__(
        self,
        store: Revocations,
        clock: Clock,
        *,
        interval: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._jtis: frozenset[str] = frozenset()
        self._marker: object = None
        self._checked: float | None = None  #: when the store was last read successfully (monotonic)
        self._tried = float("-inf")  #: when it was last tried
        self._dirty = False  #: another server revoked a token: read the store at the next check
        #: set each time another server's revocation is pushed (tests wait on it)
        self.invalidated = threading.Event()

    def is_revoked(self, jti: str) -> bool:
        now = self._monotonic()
        checked = self._checked
        if self._dirty or checked is None or now - checked >= self._interval:
            self._sync(now)
        return jti in self._jtis

    def invalidate(self) -> None:
        """Another server revoked a token (a pushed notification): the next check reads the store."""
        self._dirty = True
        self.invalidated.set()

    def noted(self, jti: str) -> None:
        """A revocation this process just made: it applies here at once, before the next read of the store."""
        with self._lock:
            self._jtis = self._jtis | {jti}

    def _sync(self, now: float) -> None:
        with self._lock:
            if not self._dirty and self._checked is not None and now - self._checked < self._interval:
                return  # another thread read it meanwhile
            if self._dirty or self._checked is None or now - self._tried >= self._interval / 4:
                self._tried = now
                dirty, self._dirty = self._dirty, False
                try:
                    marker = self._store.marker()
                    if dirty or marker != self._marker or self._checked is None:
                        self._jtis = self._store.active(self._clock.now())
                        self._marker = marker
                    self._checked = now
                    return
                except StoreError:
                    self._dirty = self._dirty or dirty  # still to be read once the store answers
            if self._checked is None or now - self._checked >= 3 * self._interval:
                raise StoreError("the revoked tokens cannot be read; refusing rather than trusting an old list")
