"""Who may administer what: the rules of ``remit.admin.access`` and how the registry applies them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import pytest

from remit.admin.access import (
    Act,
    AdminPrincipal,
    AdminRole,
    AgentTarget,
    Target,
    UserTarget,
    authorize,
    is_allowed,
    owner_scope,
    sees_every,
    user_scope,
    visible,
)
from remit.container import Remit
from remit.errors import Forbidden, NotFound
from remit.paging import PageRequest
from remit.registry import (
    AgentAction,
    AgentChanges,
    AgentDraft,
    AgentStatus,
    ResourceChanges,
    ResourceDraft,
    ResourceKind,
    RiskTier,
    RoleChanges,
    RoleDraft,
    UserChanges,
    UserDraft,
    UserStatus,
)
from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
from tests.conftest import OwnerFactory, owner_principal

Outcome = Literal["allow", "forbidden", "not_found"]

ALICE = owner_principal("alice")
ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)
AUDITOR = AdminPrincipal(actor="test:auditor", role=AdminRole.AUDITOR)
PEP = AdminPrincipal(actor="test:pep", role=AdminRole.PEP)

OWN = AgentTarget(owner="alice", status="active", name="a-1")
OWN_SUSPENDED = AgentTarget(owner="alice", status="suspended", name="a-2")
OWN_QUARANTINED = AgentTarget(owner="alice", status="quarantined", name="a-3")
OTHERS = AgentTarget(owner="bob", status="active", name="b-1")
SELF = UserTarget(id="alice")
OTHER_USER = UserTarget(id="bob")

#: the targets the services hand to ``authorize`` for each act (for a transfer: the *new* owner)
TARGETS: dict[Act, list[Target]] = {
    Act.AGENT_CREATE: [OWN, OTHERS],
    Act.AGENT_READ: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_UPDATE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_TRANSFER: [OWN, OTHERS],
    Act.AGENT_CLASSIFY: [OWN, OTHERS],
    Act.AGENT_SUSPEND: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_RESUME: [OWN_SUSPENDED, OWN_QUARANTINED, OTHERS],
    Act.AGENT_QUARANTINE: [OWN, OWN_SUSPENDED, OTHERS],
    Act.AGENT_RETIRE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_KEY_ADD: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_KEY_READ: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_KEY_REVOKE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_CERT_ISSUE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_CERT_READ: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_CERT_REVOKE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.API_KEY_CREATE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.API_KEY_READ: [OWN, OWN_QUARANTINED, OTHERS],
    Act.API_KEY_REVOKE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_CLIENT_READ: [OWN, OWN_QUARANTINED, OTHERS],
    Act.AGENT_CLIENT_UPDATE: [OWN, OWN_QUARANTINED, OTHERS],
    Act.USER_CREATE: [None],
    Act.USER_READ: [SELF, OTHER_USER],
    Act.USER_UPDATE: [SELF, OTHER_USER],
    Act.ROLE_CREATE: [None],
    Act.ROLE_READ: [None],
    Act.ROLE_UPDATE: [None],
    Act.ROLE_DELETE: [None],
    Act.ROLE_ASSIGN: [None],
    Act.RESOURCE_CREATE: [None],
    Act.RESOURCE_READ: [None],
    Act.RESOURCE_UPDATE: [None],
    Act.RESOURCE_DELETE: [None],
    Act.EVENT_READ: [None],
    Act.POLICY_READ: [None],
    Act.POLICY_WRITE: [None],
    Act.POLICY_MODE: [None],
    Act.DECISION_EVALUATE: [None],
    Act.AUDIT_READ: [None],
    Act.ADMIN_TOKEN_CREATE: [None],
    Act.ADMIN_TOKEN_READ: [None],
    Act.ADMIN_TOKEN_REVOKE: [None],
    Act.REGISTRATION_TOKEN_CREATE: [None],
    Act.REGISTRATION_TOKEN_READ: [None],
    Act.REGISTRATION_TOKEN_REVOKE: [None],
    Act.METRICS_READ: [None],
    Act.KEY_READ: [None],
    Act.KEY_ROTATE: [None],
    Act.CA_INIT: [None],
    Act.TOKEN_REVOKE: [OWN, OWN_QUARANTINED, OTHERS],
}

#: what the auditor may do: every read, and ask for decisions; nothing else
AUDITOR_ALLOWED = {
    Act.AGENT_READ,
    Act.AGENT_KEY_READ,
    Act.AGENT_CERT_READ,
    Act.API_KEY_READ,
    Act.AGENT_CLIENT_READ,
    Act.USER_READ,
    Act.ROLE_READ,
    Act.RESOURCE_READ,
    Act.EVENT_READ,
    Act.POLICY_READ,
    Act.ADMIN_TOKEN_READ,
    Act.REGISTRATION_TOKEN_READ,
    Act.DECISION_EVALUATE,
    Act.AUDIT_READ,
    Act.METRICS_READ,
    Act.KEY_READ,
}

#: the owner alice: (act, target) -> outcome; written out by hand, one row per case
OWNER_TABLE: dict[tuple[Act, Target], Outcome] = {
    (Act.AGENT_CREATE, OWN): "allow",
    (Act.AGENT_CREATE, OTHERS): "forbidden",  # registering in someone else's name
    (Act.AGENT_READ, OWN): "allow",
    (Act.AGENT_READ, OWN_QUARANTINED): "allow",
    (Act.AGENT_READ, OTHERS): "not_found",
    (Act.AGENT_UPDATE, OWN): "allow",
    (Act.AGENT_UPDATE, OWN_QUARANTINED): "allow",
    (Act.AGENT_UPDATE, OTHERS): "not_found",
    (Act.AGENT_TRANSFER, OWN): "forbidden",
    (Act.AGENT_CLASSIFY, OWN): "forbidden",  # clearance, tier, environment: what policies read is an admin's
    (Act.AGENT_CLASSIFY, OTHERS): "not_found",
    (Act.AGENT_TRANSFER, OTHERS): "forbidden",  # giving an own agent away: forbidden, not "not found"
    (Act.AGENT_SUSPEND, OWN): "allow",
    (Act.AGENT_SUSPEND, OWN_QUARANTINED): "forbidden",  # quarantined -> suspended -> active lifts it
    (Act.AGENT_SUSPEND, OTHERS): "not_found",
    (Act.AGENT_RESUME, OWN_SUSPENDED): "allow",
    (Act.AGENT_RESUME, OWN_QUARANTINED): "forbidden",  # lifting a quarantine is for admins
    (Act.AGENT_RESUME, OTHERS): "not_found",
    (Act.AGENT_QUARANTINE, OWN): "forbidden",
    (Act.AGENT_QUARANTINE, OWN_SUSPENDED): "forbidden",
    (Act.AGENT_QUARANTINE, OTHERS): "not_found",
    (Act.AGENT_RETIRE, OWN): "allow",
    (Act.AGENT_RETIRE, OWN_QUARANTINED): "allow",
    (Act.AGENT_RETIRE, OTHERS): "not_found",
    (Act.AGENT_KEY_ADD, OWN): "allow",
    (Act.AGENT_KEY_ADD, OWN_QUARANTINED): "forbidden",  # a new key waits for the quarantine's release
    (Act.AGENT_KEY_ADD, OTHERS): "not_found",
    (Act.AGENT_KEY_READ, OWN): "allow",
    (Act.AGENT_KEY_READ, OWN_QUARANTINED): "allow",
    (Act.AGENT_KEY_READ, OTHERS): "not_found",
    (Act.AGENT_KEY_REVOKE, OWN): "allow",
    (Act.AGENT_KEY_REVOKE, OWN_QUARANTINED): "allow",  # revoking stays open: it only takes access away
    (Act.AGENT_KEY_REVOKE, OTHERS): "not_found",
    (Act.AGENT_CERT_ISSUE, OWN): "allow",
    (Act.AGENT_CERT_ISSUE, OWN_QUARANTINED): "forbidden",  # a new certificate waits for the quarantine's release
    (Act.AGENT_CERT_ISSUE, OTHERS): "not_found",
    (Act.AGENT_CERT_READ, OWN): "allow",
    (Act.AGENT_CERT_READ, OWN_QUARANTINED): "allow",
    (Act.AGENT_CERT_READ, OTHERS): "not_found",
    (Act.AGENT_CERT_REVOKE, OWN): "allow",
    (Act.AGENT_CERT_REVOKE, OWN_QUARANTINED): "allow",  # revoking only takes access away
    (Act.AGENT_CERT_REVOKE, OTHERS): "not_found",
    (Act.API_KEY_CREATE, OWN): "allow",
    (Act.API_KEY_CREATE, OWN_QUARANTINED): "forbidden",  # as for keys: waits for the quarantine's release
    (Act.API_KEY_CREATE, OTHERS): "not_found",
    (Act.API_KEY_READ, OWN): "allow",
    (Act.API_KEY_READ, OWN_QUARANTINED): "allow",
    (Act.API_KEY_READ, OTHERS): "not_found",
    (Act.API_KEY_REVOKE, OWN): "allow",
    (Act.API_KEY_REVOKE, OWN_QUARANTINED): "allow",
    (Act.API_KEY_REVOKE, OTHERS): "not_found",
    (Act.AGENT_CLIENT_READ, OWN): "allow",
    (Act.AGENT_CLIENT_READ, OWN_QUARANTINED): "allow",
    (Act.AGENT_CLIENT_READ, OTHERS): "not_found",
    (Act.AGENT_CLIENT_UPDATE, OWN): "allow",
    (Act.AGENT_CLIENT_UPDATE, OWN_QUARANTINED): "allow",  # a quarantined agent gets no token either way
    (Act.AGENT_CLIENT_UPDATE, OTHERS): "not_found",
    (Act.USER_CREATE, None): "forbidden",
    (Act.USER_READ, SELF): "allow",
    (Act.USER_READ, OTHER_USER): "not_found",
    (Act.USER_UPDATE, SELF): "forbidden",
    (Act.USER_UPDATE, OTHER_USER): "not_found",
    (Act.ROLE_CREATE, None): "forbidden",
    (Act.ROLE_READ, None): "allow",
    (Act.ROLE_UPDATE, None): "forbidden",
    (Act.ROLE_DELETE, None): "forbidden",
    (Act.ROLE_ASSIGN, None): "forbidden",
    (Act.RESOURCE_CREATE, None): "forbidden",
    (Act.RESOURCE_READ, None): "allow",
    (Act.RESOURCE_UPDATE, None): "forbidden",
    (Act.RESOURCE_DELETE, None): "forbidden",
    (Act.EVENT_READ, None): "forbidden",
    (Act.POLICY_READ, None): "forbidden",
    (Act.POLICY_WRITE, None): "forbidden",
    (Act.POLICY_MODE, None): "forbidden",
    (Act.DECISION_EVALUATE, None): "forbidden",
    (Act.AUDIT_READ, None): "allow",  # the service scopes the query to the owner's own agents
    (Act.ADMIN_TOKEN_CREATE, None): "forbidden",
    (Act.ADMIN_TOKEN_READ, None): "forbidden",
    (Act.ADMIN_TOKEN_REVOKE, None): "forbidden",
    (Act.REGISTRATION_TOKEN_CREATE, None): "forbidden",  # an initial access token is an admin's to hand out
    (Act.REGISTRATION_TOKEN_READ, None): "forbidden",
    (Act.REGISTRATION_TOKEN_REVOKE, None): "forbidden",
    (Act.METRICS_READ, None): "forbidden",
    (Act.KEY_READ, None): "forbidden",
    (Act.KEY_ROTATE, None): "forbidden",  # signing keys are an admin's: rotation changes every token
    (Act.CA_INIT, None): "forbidden",  # the CA is an admin's: every agent certificate chains to it
    (Act.TOKEN_REVOKE, OWN): "allow",
    (Act.TOKEN_REVOKE, OWN_QUARANTINED): "allow",  # revoking stays open: it only takes access away
    (Act.TOKEN_REVOKE, OTHERS): "not_found",
}

CASES = [(act, target) for act, targets in TARGETS.items() for target in targets]


def case_id(act: Act, target: Target) -> str:
    if isinstance(target, AgentTarget):
        return f"{act.value}/agent:{target.owner}:{target.status}"
    if isinstance(target, UserTarget):
        return f"{act.value}/user:{target.id}"
    return act.value


IDS = [case_id(a, t) for a, t in CASES]


def outcome(principal: AdminPrincipal, act: Act, target: Target) -> Outcome:
    try:
        authorize(principal, act, target)
    except NotFound as exc:
        # worded exactly like the store's own "not found", so that it tells nothing
        assert exc.code == "not_found"
        if isinstance(target, AgentTarget):
            assert (exc.message, exc.field) == (f"no such agent {target.name!r}", "name")
        else:
            assert isinstance(target, UserTarget)
            assert (exc.message, exc.field) == (f"no such user {target.id!r}", "id")
        assert not is_allowed(principal, act, target)
        return "not_found"
    except Forbidden as exc:
        assert exc.code == "forbidden"
        assert exc.message.startswith(f"role {principal.role.value} may not {act.value}")
        assert not is_allowed(principal, act, target)
        return "forbidden"
    assert is_allowed(principal, act, target)
    return "allow"


def test_tables_cover_every_act_and_role() -> None:
    assert set(TARGETS) == set(Act)
    assert set(OWNER_TABLE) == set(CASES)
    assert {a for a in Act if a.is_read} <= AUDITOR_ALLOWED
    assert set(AdminRole) == {AdminRole.ADMIN, AdminRole.AUDITOR, AdminRole.OWNER, AdminRole.PEP}


@pytest.mark.parametrize(("act", "target"), CASES, ids=IDS)
def test_admin_may_do_everything(act: Act, target: Target) -> None:
    assert outcome(ADMIN, act, target) == "allow"


@pytest.mark.parametrize(("act", "target"), CASES, ids=IDS)
def test_auditor_only_reads(act: Act, target: Target) -> None:
    # an auditor sees everything, so a refusal is always "forbidden", never "not found"
    assert outcome(AUDITOR, act, target) == ("allow" if act in AUDITOR_ALLOWED else "forbidden")


@pytest.mark.parametrize(("act", "target"), CASES, ids=IDS)
def test_pep_only_asks_for_decisions(act: Act, target: Target) -> None:
    # a PEP reads no agent or user, so refusals about one say "not found"; it may read the metrics
    got = outcome(PEP, act, target)
    if act in (Act.DECISION_EVALUATE, Act.METRICS_READ):
        assert got == "allow"
    elif target is not None and act not in (Act.AGENT_CREATE, Act.AGENT_TRANSFER):
        assert got == "not_found"
    else:
        assert got == "forbidden"


@pytest.mark.parametrize(("act", "target"), CASES, ids=IDS)
def test_owner(act: Act, target: Target) -> None:
    assert outcome(ALICE, act, target) == OWNER_TABLE[(act, target)]


@pytest.mark.parametrize(("act", "target"), CASES, ids=IDS)
def test_owner_without_a_user_may_touch_no_agent(act: Act, target: Target) -> None:
    nobody = AdminPrincipal(actor="test:owner:none", role=AdminRole.OWNER, user_id=None)
    got = outcome(nobody, act, target)
    if act in (Act.ROLE_READ, Act.RESOURCE_READ):
        assert got == "allow"
    else:
        assert got != "allow"


@pytest.mark.parametrize(
    ("act", "target", "why"),
    [
        (Act.AGENT_RESUME, OWN_QUARANTINED, "a quarantined agent is released by an admin"),
        (Act.AGENT_SUSPEND, OWN_QUARANTINED, "a quarantined agent is released by an admin"),
        (Act.AGENT_TRANSFER, OTHERS, "only an admin transfers an agent to another owner"),
        (
            Act.AGENT_CLASSIFY,
            OWN,
            "an owner may change the purpose; what policies read about an agent is changed by an admin",
        ),
        (Act.AGENT_CREATE, OTHERS, "an owner registers agents in their own name"),
    ],
    ids=["resume-quarantined", "suspend-quarantined", "transfer", "classify", "create-for-other"],
)
def test_owner_refusals_say_why(act: Act, target: Target, why: str) -> None:
    with pytest.raises(Forbidden) as info:
        authorize(ALICE, act, target)
    assert info.value.message == f"role owner may not {act.value} ({why})"


def test_not_found_does_not_reveal_existence() -> None:
    with pytest.raises(NotFound) as other:
        authorize(ALICE, Act.AGENT_UPDATE, OTHERS)
    assert str(other.value) == "not_found: no such agent 'b-1'"
    with pytest.raises(NotFound) as user:
        authorize(ALICE, Act.USER_UPDATE, OTHER_USER)
    assert str(user.value) == "not_found: no such user 'bob'"


def test_scopes() -> None:
    assert owner_scope(ADMIN) is None
    assert owner_scope(AUDITOR) is None
    assert owner_scope(ALICE) == "alice"
    assert user_scope(ADMIN) is None
    assert user_scope(AUDITOR) is None
    assert user_scope(ALICE) == "alice"
    assert owner_scope(ALICE, Act.API_KEY_READ) == "alice"
    assert owner_scope(AUDITOR, Act.API_KEY_READ) is None


@pytest.mark.parametrize(
    "principal", [PEP, AdminPrincipal(actor="x", role=AdminRole.OWNER)], ids=["pep", "owner-without-user"]
)
def test_no_scope_is_a_refusal(principal: AdminPrincipal) -> None:
    # a caller who may read no agent (or user) at all is refused a listing, not handed an empty page
    for scope in (owner_scope, user_scope, lambda p: owner_scope(p, Act.API_KEY_READ)):
        with pytest.raises(Forbidden) as info:
            scope(principal)
        assert info.value.code == "forbidden"
        assert info.value.message.startswith(f"role {principal.role.value} may not ")


def test_visible_keeps_what_the_caller_may_read_in_order() -> None:
    targets = [("b-1", OTHERS), ("a-1", OWN), ("a-3", OWN_QUARANTINED)]
    assert visible(ALICE, Act.AGENT_READ, targets) == ("a-1", "a-3")
    assert visible(ADMIN, Act.AGENT_READ, targets) == ("b-1", "a-1", "a-3")
    assert visible(PEP, Act.AGENT_READ, targets) == ()
    users = [("bob", OTHER_USER), ("alice", SELF)]
    assert visible(ALICE, Act.USER_READ, users) == ("alice",)
    assert sees_every(AUDITOR, Act.USER_READ)
    assert not sees_every(ALICE, Act.AGENT_READ)


# -- through the registry, on both databases ------------------------------------------------------------------

ALL = PageRequest(limit=100)


@pytest.fixture
def two_owners(remit: Remit, admin: AdminPrincipal) -> Remit:
    """Users alice and bob; alice owns a-1 and a-2, bob owns b-1."""
    reg = remit.registry
    for uid in ("alice", "bob"):
        reg.create_user(admin, UserDraft(id=uid, email=f"{uid}@example.org"))
    for name, owner in (("a-1", "alice"), ("a-2", "alice"), ("b-1", "bob")):
        reg.create_agent(admin, AgentDraft(name=name, owner=owner, team="red"))
    return remit


def test_owner_lists_only_own_agents(two_owners: Remit, make_owner: OwnerFactory) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")

    def names(**where: object) -> list[str]:
        return [a.name for a in reg.list_agents(alice, AgentFilter(**where), ALL).items]  # type: ignore[arg-type]

    assert names() == ["a-1", "a-2"]
    assert names(owner="alice") == ["a-1", "a-2"]
    assert names(owner="bob") == []
    assert names(team="red") == ["a-1", "a-2"]
    page = reg.list_agents(alice, AgentFilter(), PageRequest(limit=1))
    assert [a.name for a in page.items] == ["a-1"]
    assert page.next_after == "a-1"
    page = reg.list_agents(alice, AgentFilter(), PageRequest(limit=1, after="a-1"))
    assert [a.name for a in page.items] == ["a-2"]
    assert page.next_after is None  # b-1 lies beyond, but is not alice's


@pytest.mark.parametrize(
    "principal",
    [PEP, AdminPrincipal(actor="test:owner:none", role=AdminRole.OWNER)],
    ids=["pep", "owner-without-user"],
)
def test_who_may_read_no_agent_is_refused_the_listings(two_owners: Remit, principal: AdminPrincipal) -> None:
    reg = two_owners.registry
    listings: list[Callable[[], object]] = [
        lambda: reg.list_agents(principal, AgentFilter(), ALL),
        lambda: reg.list_agents(principal, AgentFilter(owner="alice"), ALL),
        lambda: reg.list_users(principal, UserFilter(), ALL),
        lambda: two_owners.legacy_keys.report(principal, ALL),
    ]
    for listing in listings:
        with pytest.raises(Forbidden) as info:
            listing()
        assert info.value.code == "forbidden"


def test_owner_sees_only_own_members_of_a_role(two_owners: Remit, admin: AdminPrincipal) -> None:
    reg = two_owners.registry
    reg.create_role(admin, RoleDraft(name="reader"))
    reg.create_role(admin, RoleDraft(name="writer"))
    for agent in ("a-1", "b-1"):
        reg.assign_agent(admin, "reader", agent, True)
    reg.assign_agent(admin, "writer", "b-1", True)
    for user in ("alice", "bob"):
        reg.assign_user(admin, "reader", user, True)
    reg.assign_user(admin, "writer", "bob", True)
    alice = owner_principal("alice")

    role = reg.get_role(alice, "reader")
    assert (role.agents, role.users) == (("a-1",), ("alice",))
    listed = {r.name: (r.agents, r.users) for r in reg.list_roles(alice, RoleFilter(), ALL).items}
    assert listed == {"reader": (("a-1",), ("alice",)), "writer": ((), ())}
    # admins and auditors see every member
    for everyone in (admin, AUDITOR):
        role = reg.get_role(everyone, "reader")
        assert (role.agents, role.users) == (("a-1", "b-1"), ("alice", "bob"))

    def names(principal: AdminPrincipal, **where: str) -> list[str]:
        return [r.name for r in reg.list_roles(principal, RoleFilter(**where), ALL).items]

    assert names(alice, agent="a-1") == ["reader"]
    assert names(alice, user="alice") == ["reader"]
    # another owner's agent, or another user, answers as one that does not exist: no roles
    assert names(alice, agent="b-1") == names(alice, agent="ghost") == []
    assert names(alice, user="bob") == names(alice, user="ghost") == []
    assert names(admin, agent="b-1") == ["reader", "writer"]
    assert names(admin, user="bob") == ["reader", "writer"]


def test_owner_cannot_reach_another_owners_agent(
    two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    before = reg.get_agent(admin, "b-1")
    attempts: list[Callable[[], object]] = [
        lambda: reg.get_agent(alice, "b-1"),
        lambda: reg.update_agent(alice, "b-1", AgentChanges(purpose="mine now")),
        lambda: reg.update_agent(alice, "b-1", AgentChanges(owner="alice")),
        lambda: reg.change_agent_status(alice, "b-1", AgentAction.SUSPEND, "gotcha"),
        lambda: reg.change_agent_status(alice, "b-1", AgentAction.RETIRE, "gotcha"),
        lambda: reg.change_agent_status(alice, "b-1", AgentAction.QUARANTINE, "gotcha"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as info:
            attempt()
        assert (info.value.message, info.value.field) == ("no such agent 'b-1'", "name")
    # the same answer as for an agent that does not exist
    with pytest.raises(NotFound) as missing:
        reg.get_agent(alice, "ghost")
    assert (missing.value.message, missing.value.field) == ("no such agent 'ghost'", "name")

    assert reg.get_agent(admin, "b-1") == before
    assert [e.action for e in reg.list_events(admin, EventFilter(target_id="b-1"), ALL).items] == ["agent.create"]


def test_owner_manages_own_agents(two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    agent = reg.create_agent(alice, AgentDraft(name="a-3", owner="alice"))
    assert agent.owner == "alice"
    assert reg.update_agent(alice, "a-3", AgentChanges(purpose="triage")).purpose == "triage"
    assert reg.change_agent_status(alice, "a-3", AgentAction.SUSPEND, "pause").status is AgentStatus.SUSPENDED
    assert reg.change_agent_status(alice, "a-3", AgentAction.RESUME, "go").status is AgentStatus.ACTIVE
    assert reg.change_agent_status(alice, "a-3", AgentAction.RETIRE, "done").status is AgentStatus.RETIRED
    actors = {e.actor for e in reg.list_events(admin, EventFilter(target_id="a-3"), ALL).items}
    assert actors == {"test:owner:alice"}


def test_owner_cannot_classify_own_agent(two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    before = reg.get_agent(admin, "a-1")
    refused = [
        AgentChanges(clearance=10),
        AgentChanges(risk_tier=RiskTier.LOW),
        AgentChanges(environment="dev"),
        AgentChanges(team="blue"),
        AgentChanges(attributes={"trusted": True}),
        AgentChanges(review_due_at=before.review_due_at + timedelta(days=3650)),
        AgentChanges(purpose="fine on its own", clearance=10),
    ]
    for changes in refused:
        with pytest.raises(Forbidden) as info:
            reg.update_agent(alice, "a-1", changes)
        assert "what policies read about an agent is changed by an admin" in info.value.message, changes
    assert reg.get_agent(admin, "a-1") == before
    with pytest.raises(Forbidden):
        reg.create_agent(alice, AgentDraft(name="a-9", owner="alice", clearance=10))
    with pytest.raises(NotFound):
        reg.get_agent(admin, "a-9")
    # the purpose is the owner's to change; an admin classifies
    assert reg.update_agent(alice, "a-1", AgentChanges(purpose="triage")).purpose == "triage"
    assert reg.update_agent(admin, "a-1", AgentChanges(clearance=4)).clearance == 4


def test_owner_cannot_register_for_someone_else(
    two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    reg = two_owners.registry
    with pytest.raises(Forbidden) as info:
        reg.create_agent(make_owner("alice"), AgentDraft(name="sneaky", owner="bob"))
    assert "an owner registers agents in their own name" in info.value.message
    with pytest.raises(NotFound):
        reg.get_agent(admin, "sneaky")


def test_owner_cannot_transfer_or_lift_quarantine(
    two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    with pytest.raises(Forbidden):
        reg.update_agent(alice, "a-1", AgentChanges(owner="bob"))
    with pytest.raises(Forbidden):
        reg.change_agent_status(alice, "a-1", AgentAction.QUARANTINE, "self-isolate")
    reg.change_agent_status(admin, "a-1", AgentAction.QUARANTINE, "incident 7")
    for verb in (AgentAction.RESUME, AgentAction.SUSPEND):
        with pytest.raises(Forbidden) as info:
            reg.change_agent_status(alice, "a-1", verb, "let me out")
        assert "a quarantined agent is released by an admin" in info.value.message
    agent = reg.get_agent(admin, "a-1")
    assert (agent.owner, agent.status, agent.status_reason) == ("alice", AgentStatus.QUARANTINED, "incident 7")
    # the owner can still see it, and may retire it for good
    assert reg.get_agent(alice, "a-1").status is AgentStatus.QUARANTINED
    assert reg.change_agent_status(alice, "a-1", AgentAction.RETIRE, "replace it").status is AgentStatus.RETIRED


def test_owner_reads_catalogue_but_cannot_change_it(
    two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    reg.create_resource(admin, ResourceDraft(id="crm", kind=ResourceKind.APP))
    reg.create_role(admin, RoleDraft(name="reader"))
    assert reg.get_role(alice, "reader").name == "reader"
    assert [r.name for r in reg.list_roles(alice, RoleFilter(), ALL).items] == ["reader"]
    assert reg.get_resource(alice, "crm").id == "crm"
    assert [r.id for r in reg.list_resources(alice, ResourceFilter(), ALL).items] == ["crm"]
    writes: list[Callable[[], object]] = [
        lambda: reg.create_role(alice, RoleDraft(name="mine")),
        lambda: reg.update_role(alice, "reader", RoleChanges(description="x")),
        lambda: reg.delete_role(alice, "reader"),
        lambda: reg.assign_agent(alice, "reader", "a-1", True),
        lambda: reg.assign_user(alice, "reader", "alice", True),
        lambda: reg.create_resource(alice, ResourceDraft(id="mine", kind=ResourceKind.APP)),
        lambda: reg.update_resource(alice, "crm", ResourceChanges(display_name="x")),
        lambda: reg.delete_resource(alice, "crm"),
        lambda: reg.create_user(alice, UserDraft(id="carol", email="carol@example.org")),
        lambda: reg.list_events(alice, EventFilter(), ALL),
    ]
    for write in writes:
        with pytest.raises(Forbidden):
            write()
    assert reg.get_role(admin, "reader").agents == ()
    assert reg.get_role(admin, "reader").description == ""
    assert [r.id for r in reg.list_resources(admin, ResourceFilter(), ALL).items] == ["crm"]


def test_owner_sees_only_own_user_record(two_owners: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    reg = two_owners.registry
    alice = make_owner("alice")
    assert reg.get_user(alice, "alice").id == "alice"
    assert [u.id for u in reg.list_users(alice, UserFilter(), ALL).items] == ["alice"]
    assert reg.list_users(alice, UserFilter(status=UserStatus.DISABLED), ALL).items == ()
    with pytest.raises(NotFound):
        reg.get_user(alice, "bob")
    with pytest.raises(NotFound):
        reg.update_user(alice, "bob", UserChanges(status=UserStatus.DISABLED))
    with pytest.raises(Forbidden):
        reg.update_user(alice, "alice", UserChanges(display_name="Queen"))
    assert reg.get_user(admin, "bob").status is UserStatus.ACTIVE
    assert reg.get_user(admin, "alice").display_name == ""
