"""AdminTokenService on both databases: minting, storing only a digest, authenticating, revoking, expiry."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from remit.admin.access import AdminPrincipal, AdminRole
from remit.admin.tokens import AdminToken
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import AuthenticationError, Forbidden, NotFound, ValidationError
from remit.paging import PageRequest
from remit.registry import UserChanges, UserDraft, UserStatus
from remit.registry.ports import EventFilter
from remit.settings import Settings
from remit.store.tables import AdminTokenRow, Base
from tests.conftest import OwnerFactory

ALL = PageRequest(limit=100)


def mint(
    remit: Remit,
    admin: AdminPrincipal,
    role: AdminRole = AdminRole.ADMIN,
    *,
    user_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[AdminToken, str]:
    return remit.admin_tokens.create(
        admin, name=f"{role.value} token", role=role, user_id=user_id, expires_at=expires_at
    )


def refused(remit: Remit, secret: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        remit.admin_tokens.authenticate(secret)
    assert info.value.code == "unauthenticated"
    assert info.value.message == "a valid admin bearer token is required"


def everything_stored(remit: Remit) -> str:
    """Every row of every table, as text."""
    out: list[str] = []
    with remit.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


@pytest.fixture
def alice(remit: Remit, admin: AdminPrincipal) -> str:
    remit.registry.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    return "alice"


def test_created_token_stores_only_a_digest(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    token, secret = mint(remit, admin)
    assert secret.startswith("remit_adm_")
    assert len(secret) >= 40  # 256 random bits, url-safe
    assert token.id.startswith("tok_")
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(token)
    assert (token.role, token.user_id, token.created_by, token.created_at) == (
        AdminRole.ADMIN,
        None,
        "test:admin",
        clock.now(),
    )

    with remit.engine.connect() as conn:
        [row] = conn.execute(select(AdminTokenRow.__table__)).all()
    assert row.digest == token.digest
    assert all(secret not in str(value) for value in row)

    stored = everything_stored(remit)
    assert "admin_token.create" in stored
    assert token.id in stored
    assert secret not in stored
    assert secret.removeprefix("remit_adm_") not in stored

    [event] = remit.registry.list_events(admin, EventFilter(target_type="admin_token"), ALL).items
    assert (event.action, event.target_id, event.actor) == ("admin_token.create", token.id, "test:admin")
    assert event.after is not None
    assert "digest" not in event.after
    assert token.digest not in repr(event)


def test_sqlite_file_never_holds_the_secret(tmp_path: Path, clock: FrozenClock, admin: AdminPrincipal) -> None:
    app = Remit.from_settings(Settings(home=tmp_path), clock=clock)  # the default store: <home>/remit.db
    try:
        _, secret = mint(app, admin)
        assert app.admin_tokens.authenticate(secret).role is AdminRole.ADMIN
    finally:
        app.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("remit.db")]
    assert tmp_path / "remit.db" in files
    for path in files:  # the database and any WAL left behind
        assert secret.encode() not in path.read_bytes()
        assert secret.removeprefix("remit_adm_").encode() not in path.read_bytes()


def test_authenticate(remit: Remit, admin: AdminPrincipal) -> None:
    token, secret = mint(remit, admin, AdminRole.AUDITOR)
    principal = remit.admin_tokens.authenticate(secret)
    assert principal == AdminPrincipal(actor=f"token:{token.id}", role=AdminRole.AUDITOR, user_id=None)


def test_bootstrap_token(remit: Remit) -> None:
    token, secret = remit.admin_tokens.bootstrap("local:root")
    assert (token.role, token.name, token.created_by, token.expires_at) == (
        AdminRole.ADMIN,
        "bootstrap",
        "local:root",
        None,
    )
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.ADMIN


def test_revoked_token_is_refused(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    token, secret = mint(remit, admin)
    other, other_secret = mint(remit, admin)
    clock.advance(timedelta(minutes=3))
    revoked = remit.admin_tokens.revoke(admin, token.id)
    assert revoked.revoked_at == clock.now()
    refused(remit, secret)
    assert remit.admin_tokens.authenticate(other_secret).actor == f"token:{other.id}"

    clock.advance(timedelta(minutes=1))
    assert remit.admin_tokens.revoke(admin, token.id) == revoked  # again: no change, no event
    revokes = remit.registry.list_events(admin, EventFilter(action="admin_token.revoke"), ALL).items
    assert len(revokes) == 1
    assert revokes[0].before is not None and revokes[0].after is not None
    assert revokes[0].before["revoked_at"] is None
    assert revoked.revoked_at is not None
    assert revokes[0].after["revoked_at"] == revoked.revoked_at.isoformat()

    with pytest.raises(NotFound) as info:
        remit.admin_tokens.revoke(admin, "tok_missing")
    assert info.value.code == "not_found"


def test_expired_token_is_refused(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    _, secret = mint(remit, admin, expires_at=clock.now() + timedelta(hours=1))
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.ADMIN
    clock.advance(timedelta(minutes=59, seconds=59))
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.ADMIN
    clock.advance(timedelta(seconds=1))  # exactly at expiry: no longer usable
    refused(remit, secret)
    clock.advance(timedelta(days=1))
    refused(remit, secret)


@pytest.mark.parametrize("delta", [timedelta(0), -timedelta(seconds=1)], ids=["now", "past"])
def test_expiry_must_be_in_the_future(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock, delta: timedelta
) -> None:
    with pytest.raises(ValidationError) as info:
        mint(remit, admin, expires_at=clock.now() + delta)
    assert info.value.field == "expires_at"
    assert remit.admin_tokens.list(admin, ALL).items == ()


def test_owner_token_requires_a_user(remit: Remit, admin: AdminPrincipal) -> None:
    with pytest.raises(ValidationError) as info:
        mint(remit, admin, AdminRole.OWNER)
    assert info.value.code == "invalid_request"
    assert info.value.field == "user_id"
    with pytest.raises(ValidationError) as info:
        mint(remit, admin, AdminRole.OWNER, user_id="ghost")
    assert info.value.field == "user_id"
    assert info.value.message == "user 'ghost' does not exist"
    assert remit.admin_tokens.list(admin, ALL).items == ()
    assert remit.registry.list_events(admin, EventFilter(), ALL).items == ()


def test_owner_token_acts_for_its_user(remit: Remit, admin: AdminPrincipal, alice: str) -> None:
    token, secret = mint(remit, admin, AdminRole.OWNER, user_id=alice)
    assert remit.admin_tokens.authenticate(secret) == AdminPrincipal(
        actor=f"token:{token.id}", role=AdminRole.OWNER, user_id="alice"
    )


def test_disabling_the_user_stops_their_token_at_once(remit: Remit, admin: AdminPrincipal, alice: str) -> None:
    _, secret = mint(remit, admin, AdminRole.OWNER, user_id=alice)
    assert remit.admin_tokens.authenticate(secret).user_id == "alice"
    remit.registry.update_user(admin, "alice", UserChanges(status=UserStatus.DISABLED))
    refused(remit, secret)
    with pytest.raises(ValidationError) as info:
        mint(remit, admin, AdminRole.OWNER, user_id=alice)
    assert info.value.message == "user 'alice' is disabled"
    # the token itself was not touched: re-enabling the user brings it back
    remit.registry.update_user(admin, "alice", UserChanges(status=UserStatus.ACTIVE))
    assert remit.admin_tokens.authenticate(secret).user_id == "alice"


def test_garbage_bearer_values_are_refused(remit: Remit, admin: AdminPrincipal) -> None:
    _, secret = mint(remit, admin)
    garbage = [
        "",
        " ",
        "remit_adm_",
        "remit_adm",
        f"Bearer {secret}",
        f" {secret}",
        f"{secret} ",
        secret[:-1],
        secret + "A",
        secret.upper(),
        hashlib.sha256(secret.encode()).hexdigest(),  # the stored digest is not a credential
        "remit_adm_" + "A" * 43,  # well-formed, never minted
        "remit_adm_" + "A" * 300,  # too long
        "remit_adm_\x00" + "A" * 40,
        "x" * 10_000,
    ]
    for value in garbage:
        refused(remit, value)
    assert remit.admin_tokens.authenticate(secret).role is AdminRole.ADMIN


def test_token_needs_a_sane_name(remit: Remit, admin: AdminPrincipal) -> None:
    for name in ("", "   ", "a\x00b", "x" * 101):
        with pytest.raises(ValidationError) as info:
            remit.admin_tokens.create(admin, name=name, role=AdminRole.ADMIN)
        assert info.value.field == "name", repr(name)
    assert remit.admin_tokens.list(admin, ALL).items == ()
    token, _ = remit.admin_tokens.create(admin, name="  ci deploys  ", role=AdminRole.ADMIN)
    assert token.name == "ci deploys"


def test_only_admins_mint_and_revoke(
    remit: Remit, admin: AdminPrincipal, auditor: AdminPrincipal, alice: str, make_owner: OwnerFactory
) -> None:
    token, _ = mint(remit, admin)
    for who in (auditor, make_owner("alice")):
        with pytest.raises(Forbidden):
            remit.admin_tokens.create(who, name="mine", role=AdminRole.ADMIN)
        with pytest.raises(Forbidden):
            remit.admin_tokens.revoke(who, token.id)
    with pytest.raises(Forbidden):
        remit.admin_tokens.list(make_owner("alice"), ALL)
    # auditors read the list (without secrets: there are none to show)
    assert [t.id for t in remit.admin_tokens.list(auditor, ALL).items] == [token.id]
    assert remit.admin_tokens.list(admin, ALL).items[0].revoked_at is None


def test_list_tokens_pages_by_id(remit: Remit, admin: AdminPrincipal) -> None:
    ids = {mint(remit, admin)[0].id for _ in range(5)}
    seen: list[str] = []
    after: str | None = None
    while True:
        page = remit.admin_tokens.list(admin, PageRequest(limit=2, after=after))
        seen.extend(t.id for t in page.items)
        if (after := page.next_after) is None:
            break
    assert len(seen) == len(ids)  # each once
    assert set(seen) == ids
    # in the database's order of ids (its collation may differ from Python's)
    assert seen == [t.id for t in remit.admin_tokens.list(admin, ALL).items]
