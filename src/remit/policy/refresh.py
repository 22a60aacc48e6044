"""Keeps an engine's compiled state in step with the store: poll the change counter, rebuild when it moves; and put
agents' and users' status changes in force at once, before the rebuild.

The poll is one indexed read. A rebuild happens off the request path and is swapped in atomically, so a change made
through any server or the CLI is evaluated everywhere within about one interval. A status change (an agent
suspended, quarantined, retired or resumed, its owner changed, a user disabled or enabled) goes faster: the process
that commits it applies it to the guard before the call returns (``apply``), and where the store pushes changes
(a ``ChangeFeed``: PostgreSQL ``LISTEN``) every other server applies it as soon as it hears it, then rebuilds. When
the feed is down the poll still runs, so nothing is missed, only later; the feed reconnects by itself.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from remit.errors import StoreError
from remit.policy.engine import PolicyEngine
from remit.policy.model import GuardChange
from remit.policy.ports import ChangeFeed
from remit.policy.service import PolicyService
from remit.policy.state import compile_state

log = logging.getLogger(__name__)

#: the longest the refresh thread blocks on the feed at once, so that ``stop`` returns promptly
FEED_SLICE_SECONDS = 0.5


class PolicyRefresher:
    def __init__(
        self,
        service: PolicyService,
        engine: PolicyEngine,
        *,
        interval: float = 0.25,
        feed: ChangeFeed | None = None,
    ) -> None:
        self._service = service
        self._engine = engine
        self._interval = interval
        self.feed = feed
        self._stop = threading.Event()
        self._wake = threading.Event()  #: a local change: rebuild now rather than at the next poll
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: the store's change counter as last read, and when (``time.monotonic``)
        self._seen: tuple[int, float] | None = None
        self._heard = threading.Condition()
        #: the newest change counter the guard has caught up with, by a change applied or a state compiled
        self._heard_revision = 0
        #: how many changes the feed has delivered (news to the guard or not)
        self.pushed = 0
        #: called after every compile, on the thread that compiled (a server settles its heap there)
        self.on_compiled: Callable[[], None] | None = None

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

    def apply(self, change: GuardChange) -> None:
        """A status change this process committed: in force for the guard at once, the rebuild follows."""
        self._engine.apply(change)
        self._caught_up(change.revision)
        self._wake.set()

    def wait_heard(self, revision: int, timeout: float) -> bool:
        """Block until the guard has caught up with change counter ``revision`` (a change at or after it applied, or
        a state compiled at or after it), at most ``timeout`` seconds; whether it did."""
        with self._heard:
            return self._heard.wait_for(lambda: self._heard_revision >= revision, timeout)

    def wait_pushed(self, count: int, timeout: float) -> bool:
        """Block until the feed has delivered ``count`` changes in all, at most ``timeout`` seconds; whether it has."""
        with self._heard:
            return self._heard.wait_for(lambda: self.pushed >= count, timeout)

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
        self._caught_up(inputs.revision)
        if self.on_compiled is not None:
            self.on_compiled()
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="remit-policy-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.feed is not None:
            self.feed.close()

    def _run(self) -> None:
        due = time.monotonic() + self._interval
        failing = False  #: the store did not answer the last poll: said once, not at every interval
        while not self._stop.is_set():
            heard = self._listen(max(0.0, due - time.monotonic()))
            if self._stop.is_set():
                return
            if heard or time.monotonic() >= due:
                try:
                    self.refresh()
                except StoreError as exc:  # keep the last good state: a store outage must not unload policies
                    if not failing:
                        log.warning("policy refresh failed (%s); keeping the last compiled state", exc.message)
                    failing = True
                except Exception:
                    log.exception("policy refresh failed; keeping the last compiled state")
                else:
                    if failing:
                        log.info("policy refresh works again")
                    failing = False
                due = time.monotonic() + self._interval

    def _listen(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a change; apply what the feed pushes. Whether a rebuild should follow now."""
        if self.feed is not None:
            try:
                changes = self.feed.wait(min(timeout, FEED_SLICE_SECONDS))
            except Exception:  # a bad payload or a failed read: the poll still covers it
                log.exception("reading pushed policy changes failed; polling covers them")
                changes = None
            if changes is not None:
                for change in changes:
                    self._engine.apply(change)
                    with self._heard:
                        self.pushed += 1
                    self._caught_up(change.revision)
                return bool(changes) or self._take_wake()
        woken = self._wake.wait(timeout)
        self._wake.clear()
        return woken

    def _take_wake(self) -> bool:
        woken = self._wake.is_set()
        self._wake.clear()
        return woken

    def _caught_up(self, revision: int) -> None:
        with self._heard:
            if revision > self._heard_revision:
                self._heard_revision = revision
            self._heard.notify_all()


#: the cyclic collector's thresholds while a server runs (CPython's default: 700, 10, 10). A server's requests
#: wait for their audit batch by the hundred, and their objects, alive across a young collection, were walked again
#: and again: at 700 a busy server spent ~8% of its time collecting (256 connections). Garbage that only the
#: collector frees (cycles) now waits for 50,000 allocations more than frees, a few megabytes at most.
SERVER_GC_THRESHOLDS = (50_000, 20, 20)


def settle_heap() -> None:
    """Take what is alive now, the compiled policy state above all, out of the cyclic collector's way.

    A server holds a large, long-lived heap (the registry compiled into Cedar entities, the policy index) and, while
    decisions wait for their audit batch, many requests at once. Those requests' objects survive young collections
    and push the collector into full ones, each walking the whole heap (~90 ms here with the benchmark's estate,
    ~15% of a busy server's time). ``gc.freeze`` moves everything alive into a generation the collector skips.
    Called after every compile: a replaced state is freed by reference counting (it holds no cycles), frozen or not.
    """
    gc.collect(1)  # the young garbage first, so that little of it is frozen
    gc.freeze()
