"""``RevocationSet``: revoked token ids held in memory, on SQLite and PostgreSQL: a revocation made in this process
applies at once, one made by another server within the interval, and an unreadable store fails closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import StoreError
from remit.settings import Settings
from remit.store.notify import PgChangeFeed
from remit.store.revocations import RevocationStore
from remit.tokens.revocationset import RevocationSet
from tests.api.test_guard_status import POSTGRES_ONLY, SLOW_POLL, WAIT, _app


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """The real store, made unreachable on demand (the fault a network partition would cause)."""

    def __init__(self, store: RevocationStore) -> None:
        self.store = store
        self.down = False

    def marker(self) -> object:
        if self.down:
            raise StoreError("the store is unreachable")
        return self.store.marker()

    def active(self, now: datetime) -> frozenset[str]:
        if self.down:
            raise StoreError("the store is unreachable")
        return self.store.active(now)


@pytest.fixture
def other(settings: Settings, clock: FrozenClock, remit: Remit) -> Iterator[Remit]:
    """A second server on the same store."""
    second = Remit.from_settings(settings, clock=clock, migrate_schema=False)
    try:
        yield second
    finally:
        second.close()


def revoke(remit: Remit, jti: str, clock: FrozenClock) -> None:
    assert remit.revocations.revoke(jti, "helpdesk", clock.now() + timedelta(minutes=5), clock.now())


def test_here_at_once_elsewhere_within_the_interval(remit: Remit, other: Remit, clock: FrozenClock) -> None:
    ticker = Ticker()
    revoked = RevocationSet(remit.revocations, clock, interval=0.25, monotonic=ticker)
    remit.revocations.observe(revoked.noted)
    assert not revoked.is_revoked("at_1")
    revoke(remit, "at_1", clock)  # through this process
    assert revoked.is_revoked("at_1")  # no time passes: noted at once
    revoke(other, "at_2", clock)  # through another server
    assert not revoked.is_revoked("at_2")
    ticker.now += 0.25
    assert revoked.is_revoked("at_2") and revoked.is_revoked("at_1")
    # expired revocations are pruned by the next revocation; the set follows the store
    clock.advance(timedelta(minutes=6))
    revoke(other, "at_3", clock)
    ticker.now += 0.25
    assert revoked.is_revoked("at_3") and not revoked.is_revoked("at_1")


def test_an_unreadable_store_fails_closed_after_a_grace(remit: Remit, clock: FrozenClock) -> None:
    ticker = Ticker()
    flaky = Flaky(remit.revocations)
    revoked = RevocationSet(flaky, clock, interval=0.25, monotonic=ticker)
    revoke(remit, "at_1", clock)
    assert revoked.is_revoked("at_1")
    flaky.down = True
    ticker.now += 0.5
    assert revoked.is_revoked("at_1") and not revoked.is_revoked("at_2")  # the last list, for a little while
    ticker.now += 0.25
    with pytest.raises(StoreError, match="refusing rather than trusting an old list"):
        revoked.is_revoked("at_2")
    flaky.down = False
    ticker.now += 0.25
    assert revoked.is_revoked("at_1") and not revoked.is_revoked("at_2")
    unreachable = Flaky(remit.revocations)
    unreachable.down = True
    never = RevocationSet(unreachable, clock, monotonic=ticker)
    with pytest.raises(StoreError):
        never.is_revoked("at_1")  # never read: nothing to trust


def test_the_in_memory_verifier_refuses_a_token_revoked_here_at_once(remit: Remit, clock: FrozenClock) -> None:
    from tests.tokens.test_ownkeys import AUDIENCE, issue, refused

    verifier = remit.token_verifier(AUDIENCE, revocations="memory")
    token = issue(remit, "at_9")
    assert verifier.verify(token).jti == "at_9"
    revoke(remit, "at_9", clock)  # e.g. POST /oauth/revoke on this server
    refused(verifier, token, "revoked")  # the cached token too, with no store read on the way
    with pytest.raises(ValueError, match="'store' or 'memory'"):
        remit.token_verifier(AUDIENCE, revocations="sometimes")


@POSTGRES_ONLY
def test_another_servers_revocation_is_pushed(tmp_path: Path, database_url: str, clock: FrozenClock) -> None:
    """Both servers poll only every minute: only the notification can bring the revocation across in time."""
    a = _app(tmp_path, database_url, clock, poll=SLOW_POLL, name="a")
    b = _app(tmp_path, database_url, clock, poll=SLOW_POLL, name="b")
    try:
        b.refresher.start()
        feed = b.refresher.feed
        assert isinstance(feed, PgChangeFeed) and feed.wait_listening(WAIT) is not None
        assert not b.revocation_set.is_revoked("at_1")  # read once: the next read is a minute away
        revoke(a, "at_1", clock)
        assert b.revocation_set.invalidated.wait(WAIT)
        assert b.revocation_set.is_revoked("at_1")
    finally:
        b.close()
        a.close()
