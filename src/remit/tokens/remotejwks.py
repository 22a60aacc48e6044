"""A ``KeyLookup`` over a JWK Set that an identity provider publishes at a ``jwks_uri`` its administrator configured.

Providers rotate their keys: a new ``kid`` appears in the set before tokens are signed with it. So the set is
fetched when first needed, re-fetched once ``refresh_seconds`` have passed, and re-fetched at once when a token
names a ``kid`` the set does not hold - at most once every ``min_refetch_seconds``, so that a stream of tokens with
made-up key ids cannot turn Remit into a load generator against the provider. When a fetch fails, the keys fetched
before keep verifying for ``max_stale_seconds``; after that every token of the provider is refused (fail closed).

The fetch itself is injected (``remit.net.http.fetch_json`` in production): this module does no I/O of its own.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from remit.clock import Clock
from remit.errors import RemitError
from remit.tokens import jose
from remit.tokens.errors import InvalidKey, JoseError
from remit.tokens.verify import KeySet

log = logging.getLogger(__name__)

#: GET a URL, return its JSON object; raises a ``RemitError`` saying what went wrong
Fetch = Callable[[str], Mapping[str, Any]]


class RemoteKeySet:
    """The keys at ``url``, fetched through ``fetch`` and kept for ``refresh_seconds``. Thread-safe."""

    def __init__(
        self,
        url: str,
        fetch: Fetch,
        clock: Clock,
        *,
        refresh_seconds: float = 300,
        min_refetch_seconds: float = 30,
        max_stale_seconds: float = 3600,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._clock = clock
        self._refresh = refresh_seconds
        self._min_refetch = min_refetch_seconds
        self._max_stale = max_stale_seconds
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None  #: when the keys held were fetched
        self._tried_at: float | None = None  #: when a fetch was last attempted, successful or not

    def find(self, kid: str) -> jose.PublicKey | None:
        now = self._clock.now().timestamp()
        with self._lock:
            keys = self._current(now)
            found = keys.find(kid) if keys is not None else None
            if found is None and self._may_try(now):  # a kid not seen yet: the provider may have rotated
                keys = self._load(now)
                found = keys.find(kid) if keys is not None else None
            return found

    def _current(self, now: float) -> KeySet | None:
        if self._fetched_at is None or now - self._fetched_at >= self._refresh:
            self._load(now)  # at most once every min_refetch_seconds
        if self._keys is None or self._fetched_at is None:
            return None
        if now - self._fetched_at > self._refresh + self._max_stale:
            return None  # too old to trust: the provider has been unreachable too long
        return self._keys

    def _may_try(self, now: float) -> bool:
        return self._tried_at is None or now - self._tried_at >= self._min_refetch

    def _load(self, now: float) -> KeySet | None:
        if not self._may_try(now):
            return self._keys
        self._tried_at = now
        try:
            self._keys = KeySet.from_jwks(dict(self._fetch(self.url)))
            self._fetched_at = now
        except (RemitError, JoseError, InvalidKey) as exc:
            # the message says what failed (never the body); the keys fetched before stay until they are too old
            log.warning("cannot refresh the JWK Set of %s: %s", self.url, exc)
        return self._keys


class ClientKeySets:
    """The published keys of agents that registered a ``jwks_uri`` (RFC 7591 §2): a ``RemoteKeySet`` per agent, the
    ``capacity`` most recently used kept. ``uri_of`` reads an agent's ``jwks_uri`` (None: it registered none); a
    changed URI starts afresh."""

    def __init__(
        self,
        uri_of: Callable[[str], str | None],
        fetch: Fetch,
        clock: Clock,
        *,
        capacity: int = 1000,
        refresh_seconds: float = 300,
    ) -> None:
        self._uri_of = uri_of
        self._fetch = fetch
        self._clock = clock
        self._capacity = capacity
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._sets: OrderedDict[str, RemoteKeySet] = OrderedDict()

    def lookup(self, agent: str) -> RemoteKeySet | None:
        uri = self._uri_of(agent)
        if uri is None:
            return None
        with self._lock:
            found = self._sets.get(agent)
            if found is None or found.url != uri:
                found = RemoteKeySet(uri, self._fetch, self._clock, refresh_seconds=self._refresh)
                self._sets[agent] = found
            self._sets.move_to_end(agent)
            while len(self._sets) > self._capacity:
                self._sets.popitem(last=False)
            return found
