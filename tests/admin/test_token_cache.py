"""The admin-token cache: a write through this process applies at once; one made elsewhere within the TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import AuthenticationError
from remit.registry.models import UserStatus
from remit.registry.service import UserChanges, UserDraft

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
