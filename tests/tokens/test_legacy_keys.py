"""Legacy static API keys against the real store: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, NotFound, ValidationError
from remit.paging import PageRequest
from remit.registry import AgentAction
from remit.registry.models import UserStatus
from remit.registry.ports import EventFilter
from remit.registry.service import UserChanges
from remit.tokens import legacykeys
from remit.tokens.errors import InvalidClient
from remit.tokens.legacykeys import MAX_ACTIVE_KEYS
from tests.conftest import OwnerFactory
from tests.tokens.conftest import raised

DAYS_30 = timedelta(days=30)


@pytest.mark.usefixtures("agents")
def test_the_value_is_shown_once_and_stored_as_an_argon2id_hash(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock
) -> None:
    key, value = remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)
    parts = legacykeys.split(value)
    assert parts is not None and parts[0] == key.id and len(parts[1]) == 43  # 256 bits of secret
    assert value.startswith(f"remit_apikey_{key.id}_")
    with remit.engine.connect() as conn:
        [row] = conn.execute(text("SELECT * FROM legacy_api_keys")).mappings().all()
    assert row["digest"].startswith("$argon2id$")
    assert legacykeys.verify(row["digest"], parts[1]) and not legacykeys.verify(row["digest"], parts[1][:-1] + "x")
    stored = " ".join(str(v) for v in row.values())
    assert parts[1] not in stored and value not in stored
    assert (row["id"], row["agent"], row["prefix"], row["use_count"]) == (
        key.id,
        "helpdesk",
        f"remit_apikey_{key.id}",
        0,
    )
    assert row["last_used_at"] is None and row["revoked_at"] is None
    [event] = remit.registry.list_events(admin, EventFilter(action="api_key.create"), PageRequest(limit=5)).items
    assert (event.target_type, event.target_id, event.extra) == (
        "agent",
        "helpdesk",
        {"key_id": key.id, "legacy": True, "owner": "alice"},
    )
    assert "digest" not in str(event.after) and parts[1] not in str(event.after)


@pytest.mark.usefixtures("agents")
def test_an_expiry_is_required_and_capped(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    past = raised(ValidationError, lambda: remit.legacy_keys.create(admin, "helpdesk", clock.now()))
    assert (past.field, past.message) == ("expires_at", "expires_at must be in the future")
    days = remit.settings.tokens.legacy_key_max_days
    assert days == 90
    too_far = raised(
        ValidationError,
        lambda: remit.legacy_keys.create(admin, "helpdesk", clock.now() + timedelta(days=days, seconds=1)),
    )
    assert too_far.field == "expires_at" and "at most 90 days (tokens.legacy_key_max_days)" in too_far.message
    key, _ = remit.legacy_keys.create(admin, "helpdesk", clock.now() + timedelta(days=days))
    assert key.expires_at == clock.now() + timedelta(days=days)


@pytest.mark.usefixtures("agents")
def test_authenticate_counts_uses_and_refuses_what_is_not_usable(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock
) -> None:
    key, value = remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)
    used = remit.legacy_keys.authenticate("helpdesk", value)
    assert (used.id, used.use_count, used.last_used_at) == (key.id, 1, clock.now())
    clock.advance(timedelta(minutes=5))
    remit.legacy_keys.authenticate("helpdesk", value)
    [listed] = remit.legacy_keys.list(admin, "helpdesk")
    assert (listed.use_count, listed.last_used_at) == (2, clock.now())

    def refusal(client_id: str, presented: str) -> str:
        exc = raised(InvalidClient, lambda: remit.legacy_keys.authenticate(client_id, presented))
        assert (exc.code, exc.status) == ("invalid_client", 401)
        return exc.message

    parts = legacykeys.split(value)
    assert parts is not None
    wrong = f"remit_apikey_{key.id}_{'A' * 43}"
    assert refusal("helpdesk", wrong) == "the client credentials are not valid"
    assert refusal("billing", value) == "the client credentials are not valid"  # another agent's key
    assert refusal("helpdesk", f"remit_apikey_{'0' * 16}_{parts[1]}") == "the client credentials are not valid"
    assert refusal("helpdesk", "hunter2") == "the client secret is not a Remit legacy API key"

    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.SUSPEND, "incident")
    assert refusal("helpdesk", value) == "the client is suspended"
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.RESUME, "over")
    remit.registry.update_user(admin, "alice", UserChanges(status=UserStatus.DISABLED))
    assert refusal("helpdesk", value) == "the client's owner is disabled"
    remit.registry.update_user(admin, "alice", UserChanges(status=UserStatus.ACTIVE))

    clock.advance(DAYS_30)
    assert refusal("helpdesk", value) == "the legacy API key has expired"
    [listed] = remit.legacy_keys.list(admin, "helpdesk")
    assert listed.use_count == 2 and listed.status(clock.now()) == "expired"  # refusals are not uses


@pytest.mark.usefixtures("agents")
def test_revoked_keys_are_refused_and_revoking_is_final(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock
) -> None:
    key, value = remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)
    revoked = remit.legacy_keys.revoke(admin, "helpdesk", key.id)
    assert revoked.revoked_at == clock.now() and revoked.status(clock.now()) == "revoked"
    exc = raised(InvalidClient, lambda: remit.legacy_keys.authenticate("helpdesk", value))
    assert exc.message == "the legacy API key is revoked"
    again = raised(Conflict, lambda: remit.legacy_keys.revoke(admin, "helpdesk", key.id))
    assert again.message == f"the legacy API key {key.id} is already revoked"
    other = raised(NotFound, lambda: remit.legacy_keys.revoke(admin, "billing", key.id))
    assert (other.field, other.message) == ("id", f"agent 'billing' has no legacy API key {key.id!r}")
    [event] = remit.registry.list_events(admin, EventFilter(action="api_key.revoke"), PageRequest(limit=5)).items
    assert event.before is not None and event.after is not None
    assert event.before["revoked_at"] is None and event.after["revoked_at"] == clock.now().isoformat()


@pytest.mark.usefixtures("agents")
def test_owners_manage_only_their_agents_keys(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory
) -> None:
    alice = make_owner("alice")
    key, _ = remit.legacy_keys.create(alice, "helpdesk", clock.now() + DAYS_30)
    assert key.created_by == alice.actor
    hidden = raised(NotFound, lambda: remit.legacy_keys.create(alice, "billing", clock.now() + DAYS_30))
    assert hidden.message == "no such agent 'billing'"
    raised(NotFound, lambda: remit.legacy_keys.list(alice, "billing"))
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.QUARANTINE, "leak")
    forbidden = raised(Forbidden, lambda: remit.legacy_keys.create(alice, "helpdesk", clock.now() + DAYS_30))
    assert forbidden.message == "role owner may not api_key.create"
    assert remit.legacy_keys.revoke(alice, "helpdesk", key.id).revoked_at is not None  # taking access away: open


@pytest.mark.usefixtures("agents")
def test_at_most_a_few_unrevoked_keys_and_none_for_a_retired_agent(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock
) -> None:
    keys = [remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)[0] for _ in range(MAX_ACTIVE_KEYS)]
    full = raised(Conflict, lambda: remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30))
    assert "revoke one first" in full.message
    remit.legacy_keys.revoke(admin, "helpdesk", keys[0].id)
    remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)
    remit.registry.change_agent_status(admin, "billing", AgentAction.RETIRE, "gone")
    retired = raised(Conflict, lambda: remit.legacy_keys.create(admin, "billing", clock.now() + DAYS_30))
    assert retired.message == "agent 'billing' is retired and can no longer be changed"


@pytest.mark.usefixtures("agents")
def test_the_report_shows_owners_their_own_and_admins_everything(
    remit: Remit, admin: AdminPrincipal, auditor: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory
) -> None:
    mine, value = remit.legacy_keys.create(admin, "helpdesk", clock.now() + DAYS_30)
    theirs, _ = remit.legacy_keys.create(admin, "billing", clock.now() + DAYS_30)
    remit.legacy_keys.authenticate("helpdesk", value)
    everything = remit.legacy_keys.report(auditor, PageRequest(limit=10))
    assert sorted((k.agent, owner, k.use_count) for k, owner in everything.items) == [
        ("billing", "bob", 0),
        ("helpdesk", "alice", 1),
    ]
    assert [k.id for k, _ in remit.legacy_keys.report(make_owner("alice"), PageRequest(limit=10)).items] == [mine.id]
    first = remit.legacy_keys.report(admin, PageRequest(limit=1))
    assert len(first.items) == 1 and first.next_after == first.items[0][0].id
    rest = remit.legacy_keys.report(admin, PageRequest(limit=1, after=first.next_after))
    assert {first.items[0][0].id, rest.items[0][0].id} == {mine.id, theirs.id} and rest.next_after is None
    pep = AdminPrincipal(actor="test:pep", role=AdminRole.PEP)
    assert raised(Forbidden, lambda: remit.legacy_keys.report(pep, PageRequest(limit=10))).message == (
        "role pep may not api_key.read"
    )
