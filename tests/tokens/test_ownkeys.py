"""A verifier inside a Remit process (``Remit.token_verifier``): Remit's own signing keys through ``OwnKeys``, the
shared revocation store as the ``is_revoked`` hook. A revoked signing key or a revoked token is refused on the very
next call, cached tokens included, on SQLite and PostgreSQL, across two app instances sharing the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.settings import Settings
from remit.tokens.endpoint import sign_access_token
from remit.tokens.errors import InvalidToken
from remit.tokens.keyservice import CACHE_SECONDS
from remit.tokens.ownkeys import OwnKeys
from remit.tokens.verify import VerifiedCache

ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)
AUDIENCE = "https://mcp.example.org/helpdesk"


def issue(remit: Remit, jti: str) -> str:
    return sign_access_token(
        remit.signing_keys.active(),
        issuer=remit.token_endpoint.issuer,
        agent="helpdesk",
        audience=AUDIENCE,
        scope="call_tool:helpdesk.get_ticket",
        iat=int(remit.clock.now().timestamp()),
        lifetime=300,
        jti=jti,
    )


def refused(cache: VerifiedCache, token: str, description: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        cache.verify(token)
    assert description in caught.value.error_description


@pytest.fixture
def second(settings: Settings, clock: FrozenClock, remit: Remit) -> Iterator[Remit]:
    """Another server on the same store (after ``remit`` migrated it)."""
    other = Remit.from_settings(settings, clock=clock, migrate_schema=False)
    try:
        yield other
    finally:
        other.close()


def test_own_keys_find_only_keys_that_verify_and_convert_each_once(remit: Remit) -> None:
    active = remit.signing_keys.active()
    lookup = OwnKeys(remit.signing_keys)
    found = lookup.find(active.kid)
    assert found is not None and found.kid == active.kid
    assert lookup.find(active.kid) is found
    assert lookup.find("no-such-kid") is None
    assert lookup.generation() == frozenset({active.kid})
    remit.signing_keys.rotate(ADMIN, revoke_previous=True)
    assert lookup.find(active.kid) is None
    assert active.kid not in lookup.generation()


def test_a_cached_token_is_refused_once_its_signing_key_is_revoked(remit: Remit) -> None:
    verifier = remit.token_verifier(AUDIENCE)
    token = issue(remit, "at_revoked_key")
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # a hit
    remit.signing_keys.rotate(ADMIN, reason="compromised", revoke_previous=True)
    refused(verifier, token, "signing key is unknown")
    assert len(verifier) == 0
    assert verifier.verify(issue(remit, "at_new_key")).kid != first.kid  # the new key verifies


def test_a_plain_rotation_keeps_cached_tokens_verifying(remit: Remit) -> None:
    verifier = remit.token_verifier(AUDIENCE)
    token = issue(remit, "at_retired_key")
    verifier.verify(token)
    remit.signing_keys.rotate(ADMIN, reason="quarterly")
    assert verifier.verify(token).jti == "at_retired_key"  # the retired key verifies until its tokens expire


def test_a_key_revoked_on_another_server_is_refused_here_once_this_server_reloads(
    remit: Remit, second: Remit, clock: FrozenClock
) -> None:
    verifier = remit.token_verifier(AUDIENCE)
    token = issue(remit, "at_other_server")
    verifier.verify(token)
    second.signing_keys.rotate(ADMIN, revoke_previous=True)
    # without a policy poller reporting the change counter, this process reloads its keys every CACHE_SECONDS
    clock.advance(timedelta(seconds=CACHE_SECONDS))
    refused(verifier, token, "signing key is unknown")


def test_a_token_revoked_on_another_server_is_refused_on_the_very_next_call(
    remit: Remit, second: Remit, clock: FrozenClock
) -> None:
    verifier = remit.token_verifier(AUDIENCE)
    token, other = issue(remit, "at_revoked_elsewhere"), issue(remit, "at_still_good")
    verified = verifier.verify(token)
    verifier.verify(other)
    assert verifier.verify(token) is verified  # cached
    now = clock.now()
    assert second.revocations.revoke("at_revoked_elsewhere", "helpdesk", now + timedelta(seconds=300), now)
    refused(verifier, token, "been revoked")  # no time passes: no TTL
    assert verifier.verify(other).jti == "at_still_good"
    refused(remit.token_verifier(AUDIENCE), token, "been revoked")  # a fresh verifier too


def test_the_revocation_hook_ignores_a_jti_that_could_never_be_stored(remit: Remit) -> None:
    assert remit.revocations.is_revoked("x" * 300) is False
    assert remit.revocations.is_revoked("bad\x00jti") is False
    assert remit.revocations.is_revoked("at_never_revoked") is False
