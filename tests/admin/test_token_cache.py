"""The admin-token cache: a write through this process applies at once; one made elsewhere at the next poll
of the store's change counter, or within the cache time when nothing polls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import AuthenticationError
from remit.registry.models import UserStatus
from remit.registry.service import UserChanges, UserDraft
from remit.settings import Settings

ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)


def test_a_revocation_elsewhere_applies_within_the_cache_time(remit: Remit, clock: FrozenClock) -> None:
    token, secret = remit.admin_tokens.create(ADMIN, name="ci", role=AdminRole.AUDITOR)
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.AUDITOR  # now cached
    elsewhere = Remit.from_settings(remit.settings, clock=clock)  # the CLI, or a second server
    try:
        elsewhere.admin_tokens.revoke(ADMIN, token.id)
    finally:
        elsewhere.close()
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.AUDITOR  # still within 0.25 s
    clock.advance(timedelta(seconds=0.3))
    with pytest.raises(AuthenticationError) as caught:
        remit.admin_tokens.authenticate(secret)
    assert caught.value.code == "unauthenticated"


def test_a_write_through_this_process_applies_to_the_next_request(remit: Remit) -> None:
    remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    _, secret = remit.admin_tokens.create(ADMIN, name="laptop", role=AdminRole.OWNER, user_id="alice")
    assert remit.admin_tokens.authenticate(secret).user_id == "alice"
    remit.registry.update_user(ADMIN, "alice", UserChanges(status=UserStatus.DISABLED))
    with pytest.raises(AuthenticationError):
        remit.admin_tokens.authenticate(secret)


def test_a_cached_token_still_expires_on_time(remit: Remit, clock: FrozenClock) -> None:
    _, secret = remit.admin_tokens.create(
        ADMIN, name="short", role=AdminRole.AUDITOR, expires_at=clock.now() + timedelta(seconds=0.1)
    )
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.AUDITOR
    clock.advance(timedelta(seconds=0.2))
    with pytest.raises(AuthenticationError):
        remit.admin_tokens.authenticate(secret)


def test_with_a_poller_an_answer_stays_cached_until_the_store_counter_moves(
    settings: Settings, clock: FrozenClock
) -> None:
    # A long interval: the poller's thread never polls during the test; the test polls by calling refresh().
    slow = settings.model_copy(update={"policy_refresh_seconds": 3600.0})
    remit = Remit.from_settings(slow, clock=clock)
    elsewhere = Remit.from_settings(slow, clock=clock)  # the CLI, or a second server
    try:
        remit.refresher.refresh(force=True)
        remit.refresher.start()
        token, secret = elsewhere.admin_tokens.create(ADMIN, name="ci", role=AdminRole.AUDITOR)
        remit.refresher.refresh()  # the poll sees the creation
        assert remit.admin_tokens.authenticate(secret).role is AdminRole.AUDITOR
        clock.advance(timedelta(hours=1))  # far past cache_seconds: nothing moved, so no lookup is needed
        assert remit.admin_tokens.cached(secret) == AdminPrincipal(
            actor=f"token:{token.id}", role=AdminRole.AUDITOR, user_id=None
        )
        elsewhere.admin_tokens.revoke(ADMIN, token.id)
        remit.refresher.refresh()  # the next poll sees the counter move
        assert remit.admin_tokens.cached(secret) is None
        with pytest.raises(AuthenticationError):
            remit.admin_tokens.authenticate(secret)
    finally:
        elsewhere.close()
        remit.close()


def test_a_stopped_poller_falls_back_to_the_cache_time(settings: Settings, clock: FrozenClock) -> None:
    slow = settings.model_copy(update={"policy_refresh_seconds": 3600.0})
    remit = Remit.from_settings(slow, clock=clock)
    try:
        remit.refresher.refresh(force=True)
        remit.refresher.start()
        assert remit.refresher.observed_revision() == remit.policies.revision()
        remit.refresher.stop()
        assert remit.refresher.observed_revision() is None
        _, secret = remit.admin_tokens.create(ADMIN, name="ci", role=AdminRole.AUDITOR)
        assert remit.admin_tokens.authenticate(secret).role is AdminRole.AUDITOR
        clock.advance(timedelta(seconds=3601))
        assert remit.admin_tokens.cached(secret) is None  # past cache_seconds with no poller: looked up again
    finally:
        remit.close()
