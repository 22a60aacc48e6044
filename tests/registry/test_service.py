"""RegistryService against the real store: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import pytest

from remit.admin.access import AdminPrincipal
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, InvalidTransition, NotFound, RemitError, ValidationError
from remit.paging import PageRequest
from remit.registry import (
    Agent,
    AgentAction,
    AgentChanges,
    AgentDraft,
    AgentStatus,
    Permission,
    Resource,
    ResourceChanges,
    ResourceDraft,
    ResourceKind,
    RiskTier,
    RoleChanges,
    RoleDraft,
    Sensitivity,
    User,
    UserChanges,
    UserDraft,
    UserStatus,
)
from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
from remit.settings import Settings
from tests.conftest import OwnerFactory

ALL = PageRequest(limit=100)
E = TypeVar("E", bound=RemitError)

# -- helpers ------------------------------------------------------------------------------------------------


def add_user(remit: Remit, p: AdminPrincipal, user_id: str, email: str | None = None) -> User:
    return remit.registry.create_user(p, UserDraft(id=user_id, email=email or f"{user_id}@example.org"))


def add_agent(remit: Remit, p: AdminPrincipal, name: str, owner: str = "alice", **fields: Any) -> Agent:
    return remit.registry.create_agent(p, AgentDraft(name=name, owner=owner, **fields))


def add_resource(
    remit: Remit, p: AdminPrincipal, rid: str, kind: ResourceKind = ResourceKind.APP, parent: str | None = None
) -> Resource:
    return remit.registry.create_resource(p, ResourceDraft(id=rid, kind=kind, parent=parent))


def raised(kind: type[E], call: Callable[[], object], case: str) -> E:
    """The ``kind`` exception ``call`` raises; fails naming ``case`` when it raises none."""
    try:
        call()
    except kind as exc:
        return exc
    raise AssertionError(f"{case}: {kind.__name__} not raised")


def events(remit: Remit, p: AdminPrincipal, **where: Any) -> list[tuple[str, str]]:
    """(action, target_id) of the recorded events, newest first."""
    page = remit.registry.list_events(p, EventFilter(**where), ALL)
    return [(e.action, e.target_id) for e in page.items]


@pytest.fixture
def alice(remit: Remit, admin: AdminPrincipal) -> User:
    return add_user(remit, admin, "alice")


# -- agents -------------------------------------------------------------------------------------------------


def test_create_agent(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User) -> None:
    agent = add_agent(
        remit,
        admin,
        "research-bot",
        purpose="summarises papers",
        team="research",
        environment="staging",
        risk_tier=RiskTier.HIGH,
        clearance=3,
        attributes={"region": "eu", "max_calls": 2**63 - 1, "pii": False, "tags": ("b", "a")},
    )
    now = clock.now()
    assert agent.spiffe_id == "spiffe://remit.local/agent/research-bot"
    assert agent.owner == "alice"
    assert agent.status is AgentStatus.ACTIVE
    assert agent.status_reason == "registered"
    assert agent.created_at == agent.updated_at == now
    assert agent.review_due_at == now + timedelta(days=90)
    assert agent.attributes == {"region": "eu", "max_calls": 2**63 - 1, "pii": False, "tags": ("a", "b")}

    stored = remit.registry.get_agent(admin, "research-bot")
    assert stored == agent
    assert stored.created_at.utcoffset() == timedelta(0)  # aware UTC on both databases

    [event] = remit.registry.list_events(admin, EventFilter(target_type="agent"), ALL).items
    assert (event.action, event.actor, event.target_id) == ("agent.create", "test:admin", "research-bot")
    assert event.at == now
    assert event.before is None
    assert event.after is not None
    assert event.after["spiffe_id"] == "spiffe://remit.local/agent/research-bot"
    assert event.after["status"] == "active"
    assert event.after["review_due_at"] == (now + timedelta(days=90)).isoformat()
    assert event.after["attributes"]["tags"] == ["a", "b"]


def test_create_agent_uses_settings_trust_domain_and_review_interval(
    settings: Settings, clock: FrozenClock, admin: AdminPrincipal
) -> None:
    settings = settings.model_copy(update={"trust_domain": "corp.example", "review_interval_days": 7})
    app = Remit.from_settings(settings, clock=clock)
    try:
        add_user(app, admin, "alice")
        agent = add_agent(app, admin, "bot")
        assert agent.spiffe_id == "spiffe://corp.example/agent/bot"
        assert agent.review_due_at == clock.now() + timedelta(days=7)
    finally:
        app.close()


def test_create_agent_owner_missing(remit: Remit, admin: AdminPrincipal) -> None:
    with pytest.raises(ValidationError) as info:
        add_agent(remit, admin, "orphan", owner="nobody")
    assert info.value.code == "invalid_request"
    assert info.value.field == "owner"
    assert info.value.message == "owner 'nobody' is not a registered user; create the user first"
    with pytest.raises(NotFound):
        remit.registry.get_agent(admin, "orphan")
    assert events(remit, admin) == []


def test_create_agent_owner_disabled(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    remit.registry.update_user(admin, "alice", UserChanges(status=UserStatus.DISABLED))
    with pytest.raises(ValidationError) as info:
        add_agent(remit, admin, "bot")
    assert info.value.code == "invalid_request"
    assert info.value.field == "owner"
    assert info.value.message == "owner 'alice' is disabled; choose an active owner"
    assert remit.registry.list_agents(admin, AgentFilter(), ALL).items == ()


def test_create_agent_duplicate_name(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User) -> None:
    first = add_agent(remit, admin, "bot", purpose="first")
    clock.advance(timedelta(minutes=1))
    with pytest.raises(Conflict) as info:
        add_agent(remit, admin, "bot", purpose="second")
    assert info.value.code == "conflict"
    assert info.value.field == "name"
    assert info.value.message == "an agent named 'bot' already exists"
    assert remit.registry.get_agent(admin, "bot") == first
    assert events(remit, admin, target_type="agent") == [("agent.create", "bot")]


#: one store per test, many cases per store: (case, name) that are not agent names
BAD_AGENT_NAMES = [
    ("empty", ""),
    ("upper", "Bot"),
    ("trailing-newline", "bot\n"),
    ("leading-dash", "-bot"),
    ("trailing-dash", "bot-"),
    ("slash", "bot/x"),
    ("65-long", "a" * 65),
    ("nul", "bot\x00"),
]


def test_create_agent_bad_name(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    for case, name in BAD_AGENT_NAMES:
        exc = raised(ValidationError, partial(add_agent, remit, admin, name), case)
        assert exc.field == "name", case
    assert remit.registry.list_agents(admin, AgentFilter(), ALL).items == ()


#: (case, draft fields, the field a refusal names)
BAD_AGENT_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("clearance-high", {"clearance": 11}, "clearance"),
    ("clearance-negative", {"clearance": -1}, "clearance"),
    ("team", {"team": "Research"}, "team"),
    ("environment", {"environment": "prod env"}, "environment"),
    ("purpose-long", {"purpose": "x" * 1001}, "purpose"),
    ("attr-key", {"attributes": {"Bad": 1}}, "attributes.Bad"),
    ("attr-int", {"attributes": {"n": 2**63}}, "attributes.n"),
]


def test_create_agent_invalid_fields(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    for case, fields, field in BAD_AGENT_FIELDS:
        exc = raised(ValidationError, partial(add_agent, remit, admin, "bot", **fields), case)
        assert (exc.code, exc.field) == ("invalid_request", field), case
    assert remit.registry.list_agents(admin, AgentFilter(), ALL).items == ()


def test_nul_in_purpose_is_refused_and_nothing_is_stored(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    with pytest.raises(ValidationError) as info:
        add_agent(remit, admin, "bot", purpose="a\x00b")
    assert info.value.code == "invalid_request"
    assert info.value.field == "purpose"
    assert info.value.message == "control characters are not allowed"
    with pytest.raises(NotFound):
        remit.registry.get_agent(admin, "bot")
    assert events(remit, admin, target_type="agent") == []

    agent = add_agent(remit, admin, "bot", purpose="clean")
    with pytest.raises(ValidationError) as info:
        remit.registry.update_agent(admin, "bot", AgentChanges(purpose="a\x00b"))
    assert info.value.field == "purpose"
    assert remit.registry.get_agent(admin, "bot") == agent


def test_nul_elsewhere_is_refused(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    reg = remit.registry
    add_agent(remit, admin, "bot")
    add_resource(remit, admin, "app")
    nul = "a\x00b"
    app = ResourceKind.APP
    bob = "bob@example.org"
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: reg.create_user(admin, UserDraft(id="bob", email=bob, display_name=nul)), "display_name"),
        (lambda: reg.create_user(admin, UserDraft(id="bob", email=f"{nul}@example.org")), "email"),
        (lambda: reg.create_role(admin, RoleDraft(name="r", description=nul)), "description"),
        (lambda: reg.create_resource(admin, ResourceDraft(id="x", kind=app, display_name=nul)), "display_name"),
        (lambda: reg.update_agent(admin, "bot", AgentChanges(attributes={"s": nul})), "attributes.s"),
        (lambda: reg.update_agent(admin, "bot", AgentChanges(attributes={"t": (nul,)})), "attributes.t"),
        (lambda: reg.change_agent_status(admin, "bot", AgentAction.SUSPEND, nul), "reason"),
        (lambda: reg.update_resource(admin, "app", ResourceChanges(display_name=nul)), "display_name"),
    ]  # fmt: skip
    for call, field in refusals:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field
    assert [u.id for u in reg.list_users(admin, UserFilter(), ALL).items] == ["alice"]
    assert reg.list_roles(admin, RoleFilter(), ALL).items == ()
    assert [r.id for r in reg.list_resources(admin, ResourceFilter(), ALL).items] == ["app"]
    agent = reg.get_agent(admin, "bot")
    assert agent.status is AgentStatus.ACTIVE
    assert agent.attributes == {}
    assert events(remit, admin) == [("resource.create", "app"), ("agent.create", "bot"), ("user.create", "alice")]


def test_update_agent(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User) -> None:
    before = add_agent(remit, admin, "bot", purpose="old", team="a")
    clock.advance(timedelta(hours=2))
    due = clock.now() + timedelta(days=30)
    after = remit.registry.update_agent(
        admin,
        "bot",
        AgentChanges(
            purpose="new",
            team="b",
            environment="dev",
            risk_tier=RiskTier.LOW,
            clearance=5,
            attributes={"k": "v"},
            review_due_at=due,
        ),
    )
    assert (after.purpose, after.team, after.environment, after.risk_tier, after.clearance) == (
        "new",
        "b",
        "dev",
        RiskTier.LOW,
        5,
    )
    assert after.attributes == {"k": "v"}
    assert after.review_due_at == due
    assert after.updated_at == clock.now()
    assert after.created_at == before.created_at
    assert remit.registry.get_agent(admin, "bot") == after

    [event, _create] = remit.registry.list_events(admin, EventFilter(target_id="bot"), ALL).items
    assert event.action == "agent.update"
    assert event.before is not None and event.after is not None
    assert (event.before["purpose"], event.after["purpose"]) == ("old", "new")
    assert (event.before["team"], event.after["team"]) == ("a", "b")
    assert event.after["updated_at"] == clock.now().isoformat()


def test_update_agent_without_change_records_nothing(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User
) -> None:
    before = add_agent(remit, admin, "bot", purpose="same")
    clock.advance(timedelta(hours=1))
    assert remit.registry.update_agent(admin, "bot", AgentChanges()) == before
    assert remit.registry.update_agent(admin, "bot", AgentChanges(purpose="same", owner="alice")) == before
    assert remit.registry.get_agent(admin, "bot").updated_at == before.updated_at
    assert events(remit, admin, target_type="agent") == [("agent.create", "bot")]


def test_update_missing_agent(remit: Remit, admin: AdminPrincipal) -> None:
    with pytest.raises(NotFound) as info:
        remit.registry.update_agent(admin, "ghost", AgentChanges(purpose="x"))
    assert info.value.code == "not_found"
    assert (info.value.message, info.value.field) == ("no such agent 'ghost'", "name")


def test_retired_agent_cannot_be_updated(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    add_agent(remit, admin, "bot")
    retired = remit.registry.change_agent_status(admin, "bot", AgentAction.RETIRE, "decommissioned")
    with pytest.raises(Conflict) as info:
        remit.registry.update_agent(admin, "bot", AgentChanges(purpose="revive"))
    assert info.value.code == "conflict"
    assert "retired" in info.value.message
    assert remit.registry.get_agent(admin, "bot") == retired


def test_transfer_agent(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    add_user(remit, admin, "bob")
    add_agent(remit, admin, "bot")
    moved = remit.registry.update_agent(admin, "bot", AgentChanges(owner="bob"))
    assert moved.owner == "bob"
    assert remit.registry.get_agent(admin, "bot").owner == "bob"
    [event, _] = remit.registry.list_events(admin, EventFilter(target_id="bot"), ALL).items
    assert event.before is not None and event.after is not None
    assert (event.before["owner"], event.after["owner"]) == ("alice", "bob")


@pytest.mark.parametrize("disabled", [False, True], ids=["missing", "disabled"])
def test_transfer_needs_an_active_owner(remit: Remit, admin: AdminPrincipal, alice: User, disabled: bool) -> None:
    add_agent(remit, admin, "bot")
    if disabled:
        add_user(remit, admin, "bob")
        remit.registry.update_user(admin, "bob", UserChanges(status=UserStatus.DISABLED))
    with pytest.raises(ValidationError) as info:
        remit.registry.update_agent(admin, "bot", AgentChanges(owner="bob", purpose="also"))
    assert info.value.field == "owner"
    agent = remit.registry.get_agent(admin, "bot")
    assert (agent.owner, agent.purpose) == ("alice", "")


def test_only_an_admin_transfers(remit: Remit, admin: AdminPrincipal, alice: User, make_owner: OwnerFactory) -> None:
    add_user(remit, admin, "bob")
    add_agent(remit, admin, "bot")
    with pytest.raises(Forbidden) as info:
        remit.registry.update_agent(make_owner("alice"), "bot", AgentChanges(owner="bob"))
    assert info.value.code == "forbidden"
    assert "only an admin transfers" in info.value.message
    assert remit.registry.get_agent(admin, "bot").owner == "alice"


def test_status_transitions_are_recorded(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User) -> None:
    add_agent(remit, admin, "bot")
    steps = [
        (AgentAction.SUSPEND, AgentStatus.ACTIVE, AgentStatus.SUSPENDED),
        (AgentAction.RESUME, AgentStatus.SUSPENDED, AgentStatus.ACTIVE),
        (AgentAction.QUARANTINE, AgentStatus.ACTIVE, AgentStatus.QUARANTINED),
        (AgentAction.SUSPEND, AgentStatus.QUARANTINED, AgentStatus.SUSPENDED),
        (AgentAction.QUARANTINE, AgentStatus.SUSPENDED, AgentStatus.QUARANTINED),
        (AgentAction.RESUME, AgentStatus.QUARANTINED, AgentStatus.ACTIVE),
        (AgentAction.RETIRE, AgentStatus.ACTIVE, AgentStatus.RETIRED),
    ]
    for i, (verb, start, target) in enumerate(steps):
        clock.advance(timedelta(minutes=1))
        agent = remit.registry.change_agent_status(admin, "bot", verb, f"  step {i}  ")
        assert agent.status is target
        assert agent.status_reason == f"step {i}"
        assert agent.updated_at == clock.now()
        assert remit.registry.get_agent(admin, "bot") == agent
        [event] = remit.registry.list_events(admin, EventFilter(target_id="bot"), PageRequest(limit=1)).items
        assert event.action == f"agent.{verb.value}"
        assert event.reason == f"step {i}"
        assert event.at == clock.now()
        assert event.before is not None and event.after is not None
        assert (event.before["status"], event.after["status"]) == (start.value, target.value)
        assert event.after["status_reason"] == f"step {i}"

    for verb in AgentAction:
        with pytest.raises(InvalidTransition) as info:
            remit.registry.change_agent_status(admin, "bot", verb, "again")
        assert info.value.code == "invalid_transition"
    assert len(events(remit, admin, target_id="bot")) == 1 + len(steps)


def test_status_change_refusals_store_nothing(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    agent = add_agent(remit, admin, "bot")
    with pytest.raises(ValidationError) as info:
        remit.registry.change_agent_status(admin, "bot", AgentAction.SUSPEND, "   ")
    assert info.value.field == "reason"
    with pytest.raises(InvalidTransition) as info2:
        remit.registry.change_agent_status(admin, "bot", AgentAction.RESUME, "already active")
    assert info2.value.message.startswith("cannot resume an agent that is active")
    with pytest.raises(NotFound):
        remit.registry.change_agent_status(admin, "ghost", AgentAction.SUSPEND, "x")
    assert remit.registry.get_agent(admin, "bot") == agent
    assert events(remit, admin, target_type="agent") == [("agent.create", "bot")]


def test_list_agents_filters(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    add_user(remit, admin, "bob")
    add_agent(remit, admin, "a1", team="red", environment="dev", risk_tier=RiskTier.LOW)
    add_agent(remit, admin, "a2", team="blue", risk_tier=RiskTier.HIGH)
    add_agent(remit, admin, "b1", owner="bob", team="red")
    remit.registry.change_agent_status(admin, "a2", AgentAction.SUSPEND, "paused")

    def names(**where: Any) -> list[str]:
        return [a.name for a in remit.registry.list_agents(admin, AgentFilter(**where), ALL).items]

    assert names() == ["a1", "a2", "b1"]
    assert names(owner="alice") == ["a1", "a2"]
    assert names(owner="bob") == ["b1"]
    assert names(team="red") == ["a1", "b1"]
    assert names(environment="dev") == ["a1"]
    assert names(risk_tier=RiskTier.HIGH) == ["a2"]
    assert names(status=AgentStatus.SUSPENDED) == ["a2"]
    assert names(status=AgentStatus.ACTIVE, team="red", owner="bob") == ["b1"]
    assert names(owner="carol") == []


def test_auditor_reads_but_cannot_write(
    remit: Remit, admin: AdminPrincipal, auditor: AdminPrincipal, alice: User
) -> None:
    add_agent(remit, admin, "bot")
    assert remit.registry.get_agent(auditor, "bot").name == "bot"
    assert [a.name for a in remit.registry.list_agents(auditor, AgentFilter(), ALL).items] == ["bot"]
    with pytest.raises(Forbidden):
        remit.registry.update_agent(auditor, "bot", AgentChanges(purpose="x"))
    with pytest.raises(Forbidden):
        remit.registry.change_agent_status(auditor, "bot", AgentAction.SUSPEND, "x")
    with pytest.raises(Forbidden):
        add_agent(remit, auditor, "other")
    assert events(remit, auditor, target_type="agent") == [("agent.create", "bot")]


# -- pagination ---------------------------------------------------------------------------------------------


def test_agent_pagination_walks_every_agent_once(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    names = [f"agent-{i}" for i in (4, 0, 6, 2, 5, 1, 3)]
    for name in names:
        add_agent(remit, admin, name)
    seen: list[str] = []
    pages = 0
    after: str | None = None
    while True:
        page = remit.registry.list_agents(admin, AgentFilter(), PageRequest(limit=3, after=after))
        pages += 1
        assert len(page.items) <= 3
        seen.extend(a.name for a in page.items)
        if page.next_after is None:
            break
        assert page.next_after == page.items[-1].name
        after = page.next_after
    assert seen == sorted(names)
    assert pages == 3


def test_exact_page_has_no_next(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    for i in range(3):
        add_agent(remit, admin, f"bot-{i}")
    page = remit.registry.list_agents(admin, AgentFilter(), PageRequest(limit=3))
    assert [a.name for a in page.items] == ["bot-0", "bot-1", "bot-2"]
    assert page.next_after is None
    assert remit.registry.list_agents(admin, AgentFilter(), PageRequest(limit=3, after="bot-2")).items == ()


def test_user_resource_and_role_pagination(remit: Remit, admin: AdminPrincipal) -> None:
    for i in range(5):
        add_user(remit, admin, f"user-{i}")
        add_resource(remit, admin, f"app-{i}")
        remit.registry.create_role(admin, RoleDraft(name=f"role-{i}"))

    reg = remit.registry
    after: str | None = None
    users: list[str] = []
    while True:
        upage = reg.list_users(admin, UserFilter(), PageRequest(limit=2, after=after))
        users.extend(u.id for u in upage.items)
        if (after := upage.next_after) is None:
            break
    assert users == [f"user-{i}" for i in range(5)]

    resources: list[str] = []
    while True:
        rpage = reg.list_resources(admin, ResourceFilter(), PageRequest(limit=2, after=after))
        resources.extend(r.id for r in rpage.items)
        if (after := rpage.next_after) is None:
            break
    assert resources == [f"app-{i}" for i in range(5)]

    roles: list[str] = []
    while True:
        opage = reg.list_roles(admin, RoleFilter(), PageRequest(limit=2, after=after))
        roles.extend(r.name for r in opage.items)
        if (after := opage.next_after) is None:
            break
    assert roles == [f"role-{i}" for i in range(5)]


# -- users --------------------------------------------------------------------------------------------------


def test_create_user(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    user = remit.registry.create_user(
        admin, UserDraft(id="alice", email="  Alice@Example.ORG ", display_name="Alice", attributes={"dept": "r"})
    )
    assert user.email == "alice@example.org"
    assert user.status is UserStatus.ACTIVE
    assert user.created_at == clock.now()
    assert remit.registry.get_user(admin, "alice") == user
    assert events(remit, admin) == [("user.create", "alice")]


def test_duplicate_user_id(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    with pytest.raises(Conflict) as info:
        add_user(remit, admin, "alice", email="other@example.org")
    assert info.value.code == "conflict"
    assert info.value.field == "id"
    assert info.value.message == "a user with id 'alice' already exists"
    assert remit.registry.get_user(admin, "alice").email == "alice@example.org"


def test_duplicate_user_email(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    with pytest.raises(Conflict) as info:
        add_user(remit, admin, "alice2", email="ALICE@example.org")
    assert info.value.code == "conflict"
    assert info.value.field == "email"
    with pytest.raises(NotFound):
        remit.registry.get_user(admin, "alice2")

    add_user(remit, admin, "bob")
    with pytest.raises(Conflict) as info:
        remit.registry.update_user(admin, "bob", UserChanges(email="alice@example.org"))
    assert info.value.field == "email"
    assert remit.registry.get_user(admin, "bob").email == "bob@example.org"


BAD_USERS = [
    ("id-upper", UserDraft(id="Alice", email="a@example.org"), "id"),
    ("id-newline", UserDraft(id="alice\n", email="a@example.org"), "id"),
    ("email", UserDraft(id="alice", email="not-an-email"), "email"),
    ("email-two-at", UserDraft(id="alice", email="a@b@c"), "email"),
    ("display-name-long", UserDraft(id="alice", email="a@example.org", display_name="x" * 201), "display_name"),
    ("attr-key", UserDraft(id="alice", email="a@example.org", attributes={"Bad-key": 1}), "attributes.Bad-key"),
]


def test_create_user_invalid(remit: Remit, admin: AdminPrincipal) -> None:
    for case, draft, field in BAD_USERS:
        exc = raised(ValidationError, partial(remit.registry.create_user, admin, draft), case)
        assert exc.field == field, case
    assert remit.registry.list_users(admin, UserFilter(), ALL).items == ()


def test_update_and_list_users(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, alice: User) -> None:
    add_user(remit, admin, "bob")
    clock.advance(timedelta(days=1))
    bob = remit.registry.update_user(
        admin, "bob", UserChanges(email="Robert@Example.org", display_name="Robert", status=UserStatus.DISABLED)
    )
    assert (bob.email, bob.display_name, bob.status) == ("robert@example.org", "Robert", UserStatus.DISABLED)
    assert bob.updated_at == clock.now()
    assert remit.registry.get_user(admin, "bob") == bob
    [event, _] = remit.registry.list_events(admin, EventFilter(target_id="bob"), ALL).items
    assert event.action == "user.update"
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.after["status"]) == ("active", "disabled")

    def ids(status: UserStatus | None) -> list[str]:
        return [u.id for u in remit.registry.list_users(admin, UserFilter(status=status), ALL).items]

    assert ids(None) == ["alice", "bob"]
    assert ids(UserStatus.ACTIVE) == ["alice"]
    assert ids(UserStatus.DISABLED) == ["bob"]

    with pytest.raises(NotFound):
        remit.registry.get_user(admin, "carol")
    with pytest.raises(NotFound):
        remit.registry.update_user(admin, "carol", UserChanges(display_name="C"))


# -- roles --------------------------------------------------------------------------------------------------


def test_create_role(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    add_resource(remit, admin, "crm")
    role = remit.registry.create_role(
        admin,
        RoleDraft(
            name="crm-reader",
            description="reads the CRM",
            permissions=(
                Permission(actions=("read", "list", "read"), resource="crm"),
                Permission(actions=("ping",), resource="*"),
            ),
        ),
    )
    assert role.permissions == (
        Permission(actions=("list", "read"), resource="crm"),
        Permission(actions=("ping",), resource="*"),
    )
    assert role.created_at == clock.now()
    assert role.agents == role.users == ()
    assert remit.registry.get_role(admin, "crm-reader") == role
    assert events(remit, admin, target_type="role") == [("role.create", "crm-reader")]


def test_role_permission_naming_a_missing_resource(remit: Remit, admin: AdminPrincipal) -> None:
    with pytest.raises(ValidationError) as info:
        remit.registry.create_role(
            admin, RoleDraft(name="r", permissions=(Permission(actions=("read",), resource="ghost"),))
        )
    assert info.value.code == "invalid_request"
    assert info.value.field == "permissions[0].resource"
    assert info.value.message == "resource 'ghost' does not exist"
    with pytest.raises(NotFound):
        remit.registry.get_role(admin, "r")


READ_ALL = Permission(actions=("read",), resource="*")


BAD_PERMISSIONS: list[tuple[str, tuple[Permission, ...], str]] = [
    ("no-actions", (Permission(actions=(), resource="*"),), "permissions[0].actions"),
    ("bad-action", (READ_ALL, Permission(actions=("Read",), resource="*")), "permissions[1].actions"),
    ("second-missing", (READ_ALL, Permission(actions=("read",), resource="nope")), "permissions[1].resource"),
    ("too-many", (READ_ALL,) * 257, "permissions"),
]


def test_role_permission_refusals(remit: Remit, admin: AdminPrincipal) -> None:
    for case, permissions, field in BAD_PERMISSIONS:
        draft = RoleDraft(name="r", permissions=permissions)
        exc = raised(ValidationError, partial(remit.registry.create_role, admin, draft), case)
        assert exc.field == field, case
    assert remit.registry.list_roles(admin, RoleFilter(), ALL).items == ()


def test_duplicate_role(remit: Remit, admin: AdminPrincipal) -> None:
    remit.registry.create_role(admin, RoleDraft(name="r", description="first"))
    with pytest.raises(Conflict) as info:
        remit.registry.create_role(admin, RoleDraft(name="r", description="second"))
    assert info.value.field == "name"
    assert remit.registry.get_role(admin, "r").description == "first"


def test_update_and_delete_role(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    add_resource(remit, admin, "crm")
    reg = remit.registry
    reg.create_role(admin, RoleDraft(name="r"))
    clock.advance(timedelta(minutes=5))
    role = reg.update_role(
        admin, "r", RoleChanges(description="d", permissions=(Permission(actions=("read",), resource="crm"),))
    )
    assert role.description == "d"
    assert role.updated_at == clock.now()
    assert reg.get_role(admin, "r") == role
    with pytest.raises(ValidationError) as info:
        reg.update_role(admin, "r", RoleChanges(permissions=(Permission(actions=("read",), resource="ghost"),)))
    assert info.value.field == "permissions[0].resource"
    assert reg.get_role(admin, "r") == role

    reg.delete_role(admin, "r")
    with pytest.raises(NotFound) as nf:
        reg.get_role(admin, "r")
    assert (nf.value.message, nf.value.field) == ("no such role 'r'", "name")
    with pytest.raises(NotFound):
        reg.delete_role(admin, "r")
    [deleted, updated, _] = reg.list_events(admin, EventFilter(target_type="role"), ALL).items
    assert (deleted.action, deleted.after) == ("role.delete", None)
    assert deleted.before is not None and deleted.before["description"] == "d"
    assert updated.action == "role.update"


def test_role_membership(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    reg = remit.registry
    add_agent(remit, admin, "a1")
    add_agent(remit, admin, "a2")
    add_agent(remit, admin, "a3")
    reg.create_role(admin, RoleDraft(name="reader"))
    reg.create_role(admin, RoleDraft(name="writer"))

    role = reg.assign_agent(admin, "reader", "a2", True)
    assert role.agents == ("a2",)
    role = reg.assign_agent(admin, "reader", "a1", True)
    assert role.agents == ("a1", "a2")
    reg.assign_agent(admin, "writer", "a2", True)
    role = reg.assign_user(admin, "reader", "alice", True)
    assert role.users == ("alice",)
    assert reg.get_role(admin, "reader").agents == ("a1", "a2")

    # idempotent: a second add changes nothing and records nothing
    count = len(events(remit, admin))
    assert reg.assign_agent(admin, "reader", "a1", True).agents == ("a1", "a2")
    assert len(events(remit, admin)) == count

    assert reg.get_agent(admin, "a2").roles == ("reader", "writer")
    assert reg.get_agent(admin, "a3").roles == ()

    def agents_with(role_name: str) -> list[tuple[str, tuple[str, ...]]]:
        page = reg.list_agents(admin, AgentFilter(role=role_name), ALL)
        return [(a.name, a.roles) for a in page.items]

    assert agents_with("reader") == [("a1", ("reader",)), ("a2", ("reader", "writer"))]
    assert agents_with("writer") == [("a2", ("reader", "writer"))]
    assert agents_with("nobody") == []
    assert [r.name for r in reg.list_roles(admin, RoleFilter(agent="a2"), ALL).items] == ["reader", "writer"]
    assert [r.name for r in reg.list_roles(admin, RoleFilter(user="alice"), ALL).items] == ["reader"]

    [assigned] = reg.list_events(admin, EventFilter(action="role.assign", target_id="writer"), ALL).items
    assert assigned.extra == {"agent": "a2"}
    assert assigned.before is not None and assigned.after is not None
    assert (assigned.before["agents"], assigned.after["agents"]) == ([], ["a2"])

    role = reg.assign_agent(admin, "reader", "a2", False)
    assert role.agents == ("a1",)
    role = reg.assign_user(admin, "reader", "alice", False)
    assert role.users == ()
    assert reg.assign_agent(admin, "reader", "a2", False).agents == ("a1",)  # removing twice is a no-op
    assert agents_with("reader") == [("a1", ("reader",))]
    assert [action for action, _ in events(remit, admin, target_type="role")].count("role.unassign") == 2


def test_membership_refusals(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    reg = remit.registry
    add_agent(remit, admin, "bot")
    reg.create_role(admin, RoleDraft(name="r"))
    with pytest.raises(NotFound) as info:
        reg.assign_agent(admin, "r", "ghost", True)
    assert info.value.message == "no such agent 'ghost'"
    with pytest.raises(NotFound) as info:
        reg.assign_agent(admin, "ghost", "bot", True)
    assert info.value.message == "no such role 'ghost'"
    with pytest.raises(NotFound) as info:
        reg.assign_user(admin, "r", "ghost", True)
    assert info.value.field == "user"
    reg.change_agent_status(admin, "bot", AgentAction.RETIRE, "done")
    with pytest.raises(Conflict) as conflict:
        reg.assign_agent(admin, "r", "bot", True)
    assert conflict.value.field == "agent"
    assert reg.get_role(admin, "r").agents == ()


def test_deleting_a_role_drops_its_memberships(remit: Remit, admin: AdminPrincipal, alice: User) -> None:
    reg = remit.registry
    add_agent(remit, admin, "bot")
    reg.create_role(admin, RoleDraft(name="r"))
    reg.assign_agent(admin, "r", "bot", True)
    reg.assign_user(admin, "r", "alice", True)
    reg.delete_role(admin, "r")
    assert reg.get_agent(admin, "bot").roles == ()
    assert reg.list_roles(admin, RoleFilter(user="alice"), ALL).items == ()


# -- resources ----------------------------------------------------------------------------------------------


def test_create_resource_tree(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    reg = remit.registry
    app = reg.create_resource(
        admin,
        ResourceDraft(
            id="crm",
            kind=ResourceKind.APP,
            display_name="CRM",
            sensitivity=Sensitivity.CONFIDENTIAL,
            data_classes=("pii", "finance", "pii"),
            attributes={"vendor": "acme"},
        ),
    )
    assert app.data_classes == ("finance", "pii")
    assert app.created_at == clock.now()
    assert reg.get_resource(admin, "crm") == app
    add_resource(remit, admin, "crm:contacts", ResourceKind.DATASET, parent="crm")
    add_resource(remit, admin, "crm:leads", ResourceKind.ENDPOINT, parent="crm")
    add_resource(remit, admin, "github", ResourceKind.MCP_SERVER)
    add_resource(remit, admin, "github:create_issue", ResourceKind.TOOL, parent="github")
    add_resource(remit, admin, "crm:export", ResourceKind.TOOL, parent="crm")

    def ids(**where: Any) -> list[str]:
        return [r.id for r in reg.list_resources(admin, ResourceFilter(**where), ALL).items]

    assert ids(parent="crm") == ["crm:contacts", "crm:export", "crm:leads"]
    assert ids(kind=ResourceKind.TOOL) == ["crm:export", "github:create_issue"]
    assert ids(kind=ResourceKind.TOOL, parent="github") == ["github:create_issue"]
    assert reg.get_resource(admin, "github:create_issue").parent == "github"


#: (child kind, parent id, refusal) under the tree crm (app) > crm:contacts (dataset), github (mcp_server)
BAD_PARENTS = [
    (ResourceKind.APP, "github", "a resource of kind app cannot have a parent"),
    (ResourceKind.MCP_SERVER, "crm", "a resource of kind mcp_server cannot have a parent"),
    (ResourceKind.DATASET, "github", "a dataset can only sit under: app (not mcp_server)"),
    (ResourceKind.ENDPOINT, "github", "a endpoint can only sit under: app (not mcp_server)"),
    (ResourceKind.TOOL, "crm:contacts", "a tool can only sit under: app, mcp_server (not dataset)"),
    (ResourceKind.TOOL, "ghost", "parent resource 'ghost' does not exist"),
]


def test_resource_parent_rules(remit: Remit, admin: AdminPrincipal) -> None:
    add_resource(remit, admin, "crm")
    add_resource(remit, admin, "github", ResourceKind.MCP_SERVER)
    add_resource(remit, admin, "crm:contacts", ResourceKind.DATASET, parent="crm")
    for kind, parent, message in BAD_PARENTS:
        case = f"{kind.value} under {parent}"
        exc = raised(ValidationError, partial(add_resource, remit, admin, "child", kind, parent), case)
        assert (exc.field, exc.message) == ("parent", message), case
    assert [r.id for r in remit.registry.list_resources(admin, ResourceFilter(), ALL).items] == [
        "crm",
        "crm:contacts",
        "github",
    ]


APP = ResourceKind.APP
BAD_RESOURCES = [
    ("id", ResourceDraft(id="bad id", kind=APP), "id"),
    ("id-newline", ResourceDraft(id="crm\n", kind=APP), "id"),
    ("data-class", ResourceDraft(id="x", kind=APP, data_classes=("PII",)), "data_classes"),
    (
        "too-many-classes",
        ResourceDraft(id="x", kind=APP, data_classes=tuple(f"c{i}" for i in range(33))),
        "data_classes",
    ),
    ("display-name", ResourceDraft(id="x", kind=APP, display_name="x" * 201), "display_name"),
]


def test_create_resource_invalid(remit: Remit, admin: AdminPrincipal) -> None:
    for case, draft, field in BAD_RESOURCES:
        exc = raised(ValidationError, partial(remit.registry.create_resource, admin, draft), case)
        assert exc.field == field, case
    assert remit.registry.list_resources(admin, ResourceFilter(), ALL).items == ()


def test_duplicate_resource(remit: Remit, admin: AdminPrincipal) -> None:
    add_resource(remit, admin, "crm")
    with pytest.raises(Conflict) as info:
        add_resource(remit, admin, "crm", ResourceKind.MCP_SERVER)
    assert info.value.field == "id"
    assert remit.registry.get_resource(admin, "crm").kind is ResourceKind.APP


def test_update_resource(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    before = add_resource(remit, admin, "crm")
    assert remit.registry.update_resource(admin, "crm", ResourceChanges()) == before
    clock.advance(timedelta(seconds=30))
    after = remit.registry.update_resource(
        admin,
        "crm",
        ResourceChanges(display_name="CRM", sensitivity=Sensitivity.RESTRICTED, data_classes=("pii",), attributes={}),
    )
    assert (after.display_name, after.sensitivity, after.data_classes) == ("CRM", Sensitivity.RESTRICTED, ("pii",))
    assert after.updated_at == clock.now()
    assert remit.registry.get_resource(admin, "crm") == after
    assert events(remit, admin) == [("resource.update", "crm"), ("resource.create", "crm")]


def test_delete_resource_with_children(remit: Remit, admin: AdminPrincipal) -> None:
    add_resource(remit, admin, "crm")
    add_resource(remit, admin, "crm:contacts", ResourceKind.DATASET, parent="crm")
    with pytest.raises(Conflict) as info:
        remit.registry.delete_resource(admin, "crm")
    assert info.value.code == "conflict"
    assert info.value.message == "resource 'crm' still has 1 child resource(s); delete them first"
    assert remit.registry.get_resource(admin, "crm").id == "crm"

    remit.registry.delete_resource(admin, "crm:contacts")
    remit.registry.delete_resource(admin, "crm")
    assert remit.registry.list_resources(admin, ResourceFilter(), ALL).items == ()
    assert events(remit, admin, action="resource.delete") == [
        ("resource.delete", "crm"),
        ("resource.delete", "crm:contacts"),
    ]


def test_delete_resource_named_by_a_role(remit: Remit, admin: AdminPrincipal) -> None:
    reg = remit.registry
    add_resource(remit, admin, "crm")
    add_resource(remit, admin, "wiki")
    for name in ("crm-writer", "crm-reader"):
        reg.create_role(admin, RoleDraft(name=name, permissions=(Permission(actions=("read",), resource="crm"),)))
    with pytest.raises(Conflict) as info:
        reg.delete_resource(admin, "crm")
    assert info.value.code == "conflict"
    assert info.value.message == "resource 'crm' is named by role(s) crm-reader, crm-writer; change them first"

    # repoint one role, delete the other: the resource is free
    reg.update_role(admin, "crm-reader", RoleChanges(permissions=(Permission(actions=("read",), resource="wiki"),)))
    with pytest.raises(Conflict) as info:
        reg.delete_resource(admin, "crm")
    assert "crm-writer" in info.value.message and "crm-reader" not in info.value.message
    reg.delete_role(admin, "crm-writer")
    reg.delete_resource(admin, "crm")
    with pytest.raises(NotFound):
        reg.get_resource(admin, "crm")
    with pytest.raises(NotFound):
        reg.delete_resource(admin, "crm")


# -- events -------------------------------------------------------------------------------------------------


def test_events_newest_first_with_filters(
    remit: Remit, admin: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory
) -> None:
    reg = remit.registry
    start = clock.now()
    add_user(remit, admin, "alice")  # t0
    clock.advance(timedelta(minutes=1))
    add_agent(remit, admin, "bot")  # t1
    clock.advance(timedelta(minutes=1))
    reg.change_agent_status(make_owner("alice"), "bot", AgentAction.SUSPEND, "pause")  # t2
    clock.advance(timedelta(minutes=1))
    add_resource(remit, admin, "crm")  # t3

    page = reg.list_events(admin, EventFilter(), ALL)
    assert [(e.action, e.target_id) for e in page.items] == [
        ("resource.create", "crm"),
        ("agent.suspend", "bot"),
        ("agent.create", "bot"),
        ("user.create", "alice"),
    ]
    assert [e.at for e in page.items] == [start + timedelta(minutes=m) for m in (3, 2, 1, 0)]
    assert page.next_after is None
    assert all(e.schema == "remit.change/v1" for e in page.items)
    assert len({e.id for e in page.items}) == 4

    assert events(remit, admin, target_type="agent") == [("agent.suspend", "bot"), ("agent.create", "bot")]
    assert events(remit, admin, target_type="agent", target_id="alice") == []
    assert events(remit, admin, target_id="alice") == [("user.create", "alice")]
    assert events(remit, admin, actor="test:owner:alice") == [("agent.suspend", "bot")]
    assert events(remit, admin, action="agent.create") == [("agent.create", "bot")]
    one = timedelta(minutes=1)
    assert events(remit, admin, since=start + one) == [
        ("resource.create", "crm"),
        ("agent.suspend", "bot"),
        ("agent.create", "bot"),
    ]
    assert events(remit, admin, until=start + one) == [("user.create", "alice")]  # until is exclusive
    assert events(remit, admin, since=start + one, until=start + 3 * one) == [
        ("agent.suspend", "bot"),
        ("agent.create", "bot"),
    ]


def test_event_pagination(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    for i in range(7):
        add_user(remit, admin, f"user-{i}")
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    after: str | None = None
    while True:
        page = remit.registry.list_events(admin, EventFilter(), PageRequest(limit=3, after=after))
        seen.extend(e.target_id for e in page.items)
        if (after := page.next_after) is None:
            break
    assert seen == [f"user-{i}" for i in reversed(range(7))]


BAD_EVENT_CURSORS = ["abc", "-1", "1" * 19, "", "1.5", "\u00b2", "\u0661", " 1", "1\n"]


def test_event_cursor_must_be_ours(remit: Remit, admin: AdminPrincipal) -> None:
    add_user(remit, admin, "alice")
    for cursor in BAD_EVENT_CURSORS:
        page = PageRequest(limit=3, after=cursor)
        exc = raised(ValidationError, partial(remit.registry.list_events, admin, EventFilter(), page), repr(cursor))
        assert exc.field == "cursor", repr(cursor)
        assert exc.message == "cursor is not a value returned by a previous page"
    assert len(remit.registry.list_events(admin, EventFilter(), PageRequest(limit=3, after="2")).items) == 1


def test_events_need_read_access(remit: Remit, auditor: AdminPrincipal, make_owner: OwnerFactory) -> None:
    assert remit.registry.list_events(auditor, EventFilter(), ALL).items == ()
    with pytest.raises(Forbidden):
        remit.registry.list_events(make_owner("alice"), EventFilter(), ALL)
