"""Keeps an engine's compiled state in step with the store: poll the change counter, rebuild when it moves.

The poll is one indexed read. A rebuild happens off the request path and is swapped in atomically, so a
change made through any server or the CLI is evaluated everywhere within about one interval.
"""

from __future__ import annotations

import logging
import threading
import time

from remit.policy.engine import PolicyEngine
from remit.policy.service import PolicyService
from remit.policy.state import compile_state

log = logging.getLogger(__name__)


class PolicyRefresher:
    def __init__(self, service: PolicyService, engine: PolicyEngine, *, interval: float = 0.25) -> None:
        self._service = service
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: the store's change counter as last read, and when (``time.monotonic``)
        self._seen: tuple[int, float] | None = None

    def observed_revision(self) -> int | None:
        """The store's change counter as the poll last read it, if that was within two intervals; else None.

        Caches elsewhere in the process key their entries on it: an entry stays good while the counter has not
        moved, which any server's or the CLI's change makes it do. When polling has stalled (the store is down,
        the refresher is not running), None tells them to fall back to their own time limit.
        """
        seen = self._seen
        if seen is None or self._stop.is_set() or self._thread is None:
            return None
        revision, at = seen
        return revision if time.monotonic() - at <= 2 * self._interval else None

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild if the store changed since the state was compiled; return whether it did."""
        with self._lock:
            current = self._engine.state
            polled_at = time.monotonic()
            if not force and current is not None:
                revision = self._service.revision()
                self._seen = (revision, polled_at)
                if revision == current.revision:
                    return False
            inputs = self._service.load()
            self._engine.swap(compile_state(inputs))
            self._seen = (inputs.revision, polled_at)
            log.info("policy state compiled: version %s, revision %s", inputs.version, inputs.revision)
            return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="remit-policy-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # keep the last good state: a store hiccup must not unload policies
                log.exception("policy refresh failed; keeping the last compiled state")
