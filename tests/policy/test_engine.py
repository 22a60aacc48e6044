"""The decision engine on a compiled state: RBAC, ABAC, forbid, fail-closed errors, the guard, log-only, slicing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remit.policy.compile import RegistrySnapshot
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, DenyCode, Effect, EntityRef, GuardChange, Mode, OnError
from remit.policy.state import CompiledState, PolicyInputs, compile_state
from remit.registry.models import (
    Agent,
    AgentStatus,
    Permission,
    Resource,
    ResourceKind,
    RiskTier,
    Role,
    Sensitivity,
    User,
    UserStatus,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _agent(
    name: str, owner: str = "alice", status: AgentStatus = AgentStatus.ACTIVE, roles: tuple[str, ...] = ()
) -> Agent:
    return Agent(
        name=name,
        spiffe_id=f"spiffe://remit.local/agent/{name}",
        owner=owner,
        purpose="",
        status=status,
        status_reason="",
        team="support",
        environment="production",
        risk_tier=RiskTier.LOW,
        clearance=2,
        created_at=NOW,
        updated_at=NOW,
        review_due_at=NOW,
        roles=roles,
    )


def _resource(rid: str, kind: ResourceKind, parent: str | None = None) -> Resource:
    return Resource(rid, kind, rid, parent, Sensitivity.INTERNAL, (), NOW, NOW)


def _snapshot(*, alice: UserStatus = UserStatus.ACTIVE, bot: AgentStatus = AgentStatus.ACTIVE) -> RegistrySnapshot:
    return RegistrySnapshot(
        agents=[_agent("summariser", status=bot, roles=("ticket-reader",)), _agent("other")],
        users=[
            User("alice", "alice@example.org", "Alice", alice, NOW, NOW),
            User("bob", "bob@example.org", "Bob", UserStatus.ACTIVE, NOW, NOW, attributes={"role": "admin"}),
        ],
        roles=[Role("ticket-reader", "", (Permission(("read", "call_tool"), "helpdesk"),), NOW, NOW)],
        resources=[
            _resource("helpdesk", ResourceKind.MCP_SERVER),
            _resource("helpdesk.list_tickets", ResourceKind.TOOL, "helpdesk"),
            _resource("billing", ResourceKind.MCP_SERVER),
            _resource("billing.refund", ResourceKind.TOOL, "billing"),
        ],
    )


def _engine(
    policies: str = "",
    *,
    snapshot: RegistrySnapshot | None = None,
    mode: Mode = Mode.ENFORCE,
    on_error: OnError = OnError.DENY,
    extra: list[dict[str, object]] | None = None,
) -> PolicyEngine:
    inputs = PolicyInputs(
        version=7,
        revision=1,
        mode=mode,
        on_error=on_error,
        policies=policies,
        snapshot=snapshot or _snapshot(),
        extra_entities=extra or [],
    )
    return PolicyEngine(compile_state(inputs))


def _ask(engine: PolicyEngine, agent: str, action: str, tool: str, **kw: object) -> object:
    return engine.evaluate(AuthzRequest(EntityRef("Agent", agent), action, EntityRef("Tool", tool), **kw))  # type: ignore[arg-type]


def test_role_grants_a_whole_server_subtree_and_nothing_else() -> None:
    engine = _engine()
    d = engine.evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "call_tool", EntityRef("Tool", "helpdesk.list_tickets"))
    )
    assert (d.allowed, d.effect, d.reasons, d.policy_version) == (True, Effect.ALLOW, ("role:ticket-reader#0",), 7)
    assert d.decision_id.startswith("dec_")
    for action, tool in (("write", "helpdesk.list_tickets"), ("call_tool", "billing.refund")):
        d = engine.evaluate(AuthzRequest(EntityRef("Agent", "summariser"), action, EntityRef("Tool", tool)))
        assert (d.allowed, d.deny_code, d.request_access_possible) == (False, DenyCode.NO_PERMIT, True)
    d = engine.evaluate(AuthzRequest(EntityRef("Agent", "other"), "read", EntityRef("Tool", "helpdesk.list_tickets")))
    assert d.deny_code is DenyCode.NO_PERMIT


def test_forbid_wins_over_a_role_permit() -> None:
    engine = _engine(
        '@id("no-prod")\nforbid(principal is Agent, action, resource) when { principal.environment == "production" };'
    )
    d = engine.evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    )
    assert (d.allowed, d.deny_code, d.reasons, d.request_access_possible) == (
        False,
        DenyCode.FORBIDDEN,
        ("no-prod",),
        False,
    )


def test_an_erroring_forbid_denies_unless_the_version_says_skip() -> None:
    text = '@id("risky")\nforbid(principal, action, resource) when { principal.clearance > context.limit };'
    d = _engine(text).evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    )
    assert (d.allowed, d.deny_code) == (False, DenyCode.EVALUATION_ERROR)
    assert d.errors and d.errors[0].startswith("risky: ")
    skipped = _engine(text, on_error=OnError.SKIP).evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    )
    assert (skipped.allowed, skipped.reasons) == (True, ("role:ticket-reader#0",))
    assert skipped.errors  # still reported


def test_abac_on_tool_arguments_and_context() -> None:
    text = (
        '@id("refunds")\npermit(principal is Agent, action == Action::"call_tool", resource == Tool::"billing.refund")'
        " when { context.arguments.amount < 500 };"
    )
    engine = _engine(text)
    small = engine.evaluate(
        AuthzRequest(
            EntityRef("Agent", "other"),
            "call_tool",
            EntityRef("Tool", "billing.refund"),
            {"arguments": {"amount": 120}},
        )
    )
    large = engine.evaluate(
        AuthzRequest(
            EntityRef("Agent", "other"),
            "call_tool",
            EntityRef("Tool", "billing.refund"),
            {"arguments": {"amount": 900}},
        )
    )
    missing = engine.evaluate(
        AuthzRequest(EntityRef("Agent", "other"), "call_tool", EntityRef("Tool", "billing.refund"))
    )
    assert (small.allowed, small.reasons) == (True, ("refunds",))
    assert (large.allowed, large.deny_code) == (False, DenyCode.NO_PERMIT)
    assert (missing.allowed, missing.deny_code) == (False, DenyCode.EVALUATION_ERROR)


@pytest.mark.parametrize(
    ("snapshot", "agent", "code"),
    [
        (_snapshot(), "ghost", DenyCode.UNREGISTERED_AGENT),
        (_snapshot(bot=AgentStatus.SUSPENDED), "summariser", DenyCode.AGENT_INACTIVE),
        (_snapshot(bot=AgentStatus.QUARANTINED), "summariser", DenyCode.AGENT_INACTIVE),
        (_snapshot(bot=AgentStatus.RETIRED), "summariser", DenyCode.AGENT_INACTIVE),
        (_snapshot(alice=UserStatus.DISABLED), "summariser", DenyCode.OWNER_DISABLED),
    ],
)
def test_the_guard_cannot_be_overridden(snapshot: RegistrySnapshot, agent: str, code: DenyCode) -> None:
    engine = _engine("permit(principal, action, resource);", snapshot=snapshot, mode=Mode.LOG_ONLY)
    d = engine.evaluate(AuthzRequest(EntityRef("Agent", agent), "read", EntityRef("Tool", "helpdesk.list_tickets")))
    assert (d.allowed, d.deny_code) == (False, code)
    assert agent in d.message


def test_log_only_tells_allow_and_reports_the_deny() -> None:
    engine = _engine('@id("nope")\nforbid(principal, action, resource);', mode=Mode.LOG_ONLY)
    d = engine.evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    )
    assert (d.allowed, d.effect, d.would_deny, d.deny_code, d.mode) == (
        True,
        Effect.DENY,
        True,
        DenyCode.FORBIDDEN,
        Mode.LOG_ONLY,
    )


def test_nothing_loaded_denies() -> None:
    empty = RegistrySnapshot(agents=[], users=[], roles=[], resources=[])
    d = _engine(snapshot=empty).evaluate(AuthzRequest(EntityRef("User", "x"), "read", EntityRef("Doc", "y")))
    assert (d.allowed, d.deny_code) == (False, DenyCode.NO_POLICIES)
    assert PolicyEngine().evaluate(AuthzRequest(EntityRef("User", "x"), "read", EntityRef("Doc", "y"))).deny_code is (
        DenyCode.NO_POLICIES
    )


def test_properties_merge_over_stored_attributes_and_unstored_entities_are_taken_as_described() -> None:
    text = (
        '@id("admins-archive")\npermit(principal is User, action == Action::"write", resource is record)'
        ' when { principal has role && principal.role == "admin" && resource.status == "archived" };'
    )
    engine = _engine(text)

    def write(user: str, user_props: dict[str, object] | None, status: str) -> bool:
        return engine.evaluate(
            AuthzRequest(
                EntityRef("User", user),
                "write",
                EntityRef("record", "r2"),
                principal_attrs=user_props,
                resource_attrs={"status": status},
            )
        ).allowed

    assert write("bob", None, "archived")  # stored attribute
    assert not write("bob", {"role": "viewer"}, "archived")  # request properties win
    assert write("carol", {"role": "admin"}, "archived")  # not stored: as the request describes
    assert not write("alice", None, "archived")
    assert not write("bob", None, "active")


def test_extra_entities_join_the_hierarchy() -> None:
    extra: list[dict[str, object]] = [
        {"uid": {"type": "Team", "id": "support"}, "attrs": {}, "parents": []},
        {
            "uid": {"type": "Doc", "id": "faq"},
            "attrs": {"owner_team": {"__entity": {"type": "Team", "id": "support"}}},
            "parents": [{"type": "Team", "id": "support"}],
        },
    ]
    engine = _engine(
        '@id("team-docs")\npermit(principal, action == Action::"read", resource in Team::"support");', extra=extra
    )
    d = engine.evaluate(AuthzRequest(EntityRef("Agent", "other"), "read", EntityRef("Doc", "faq")))
    assert (d.allowed, d.reasons) == (True, ("team-docs",))


def test_bad_context_is_denied_not_raised() -> None:
    engine = _engine("permit(principal, action, resource);")
    d = engine.evaluate(
        AuthzRequest(EntityRef("Agent", "other"), "read", EntityRef("Tool", "billing.refund"), {"x": float("nan")})
    )
    assert (d.allowed, d.deny_code) == (False, DenyCode.INVALID_REQUEST)


def test_slicing_ten_thousand_policies_gives_the_same_answers() -> None:
    tools = [_resource(f"t{i}", ResourceKind.TOOL, "helpdesk") for i in range(50)]
    snap = _snapshot()
    snap = RegistrySnapshot(agents=snap.agents, users=snap.users, roles=snap.roles, resources=[*snap.resources, *tools])
    lines = []
    for i in range(10_000):
        tool = f"t{i % 50}"
        agent = "other" if i == 4321 else f"agent-{i}"
        head = f'permit(principal == Agent::"{agent}", action == Action::"call_tool", resource == Tool::"{tool}");'
        lines.append(f'@id("p{i}")\n{head}')
    lines.append('@id("deny-t7")\nforbid(principal, action, resource == Tool::"t7");')
    engine = _engine("\n".join(lines), snapshot=snap)
    state = engine.state
    assert state is not None and len(state.index) == 10_002
    hit = engine.evaluate(AuthzRequest(EntityRef("Agent", "other"), "call_tool", EntityRef("Tool", "t21")))
    assert (hit.allowed, hit.reasons) == (True, ("p4321",))
    miss = engine.evaluate(AuthzRequest(EntityRef("Agent", "other"), "call_tool", EntityRef("Tool", "t22")))
    assert miss.deny_code is DenyCode.NO_PERMIT
    forbidden = engine.evaluate(AuthzRequest(EntityRef("Agent", "summariser"), "call_tool", EntityRef("Tool", "t7")))
    assert (forbidden.deny_code, forbidden.reasons) == (DenyCode.FORBIDDEN, ("deny-t7",))
    # the slice for a request holds only what can match it, not the 10k
    slice_ = state.index.candidates(
        EntityRef("Agent", "other"),
        frozenset(),
        "call_tool",
        frozenset(),
        EntityRef("Tool", "t21"),
        state.up(EntityRef("Tool", "t21")),
    )
    assert [state.index.policies[i].id for i in slice_] == ["p4321"]


def test_a_swapped_state_is_used_by_the_next_request() -> None:
    engine = _engine()
    request = AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    assert engine.evaluate(request).allowed
    engine.swap(_engine('@id("x")\nforbid(principal, action, resource);').state)  # type: ignore[arg-type]
    assert engine.evaluate(request).deny_code is DenyCode.FORBIDDEN


# -- status changes before the next compile ------------------------------------------------------------------

ALLOW_ALL = '@id("all")\npermit(principal, action, resource);'


def _compiled(revision: int, snapshot: RegistrySnapshot | None = None) -> CompiledState:
    inputs = PolicyInputs(7, revision, Mode.ENFORCE, OnError.DENY, ALLOW_ALL, snapshot or _snapshot())
    return compile_state(inputs)


def _code(engine: PolicyEngine, agent: str = "summariser") -> DenyCode | None:
    request = AuthzRequest(EntityRef("Agent", agent), "read", EntityRef("Tool", "helpdesk.list_tickets"))
    return engine.evaluate(request).deny_code


def test_a_status_change_is_in_force_for_the_next_decision_until_a_state_has_it() -> None:
    engine = PolicyEngine(_compiled(1))
    assert _code(engine) is None
    assert engine.apply(GuardChange("agent", "summariser", "suspended", "alice", revision=2))
    assert _code(engine) is DenyCode.AGENT_INACTIVE
    engine.swap(_compiled(1))  # compiled before the change: the change stays on top
    assert _code(engine) is DenyCode.AGENT_INACTIVE
    engine.swap(_compiled(2, _snapshot(bot=AgentStatus.SUSPENDED)))  # has it: nothing pending any more
    assert _code(engine) is DenyCode.AGENT_INACTIVE
    engine.swap(_compiled(3))  # resumed by a later change, learnt by the compile alone
    assert _code(engine) is None


def test_an_older_or_already_compiled_change_is_ignored() -> None:
    engine = PolicyEngine(_compiled(5))
    assert not engine.apply(GuardChange("agent", "summariser", "suspended", "alice", revision=5))
    assert _code(engine) is None
    assert engine.apply(GuardChange("agent", "summariser", "suspended", "alice", revision=7))
    assert not engine.apply(GuardChange("agent", "summariser", "active", "alice", revision=6))  # heard late
    assert _code(engine) is DenyCode.AGENT_INACTIVE
    assert engine.apply(GuardChange("agent", "summariser", "active", "alice", revision=8))
    assert _code(engine) is None


def test_an_owner_disabled_or_changed_is_checked_at_once() -> None:
    engine = PolicyEngine(_compiled(1))
    engine.apply(GuardChange("user", "alice", "disabled", "", revision=2))
    assert _code(engine) is DenyCode.OWNER_DISABLED
    engine.apply(GuardChange("agent", "summariser", "active", "bob", revision=3))  # transferred to an active owner
    assert _code(engine) is None


def test_a_change_cannot_let_an_agent_the_state_does_not_know_past_the_guard() -> None:
    engine = PolicyEngine(_compiled(1))
    engine.apply(GuardChange("agent", "newcomer", "active", "alice", revision=2))
    assert _code(engine, "newcomer") is DenyCode.UNREGISTERED_AGENT
    engine.apply(GuardChange("agent", "newcomer", "suspended", "alice", revision=3))
    assert _code(engine, "newcomer") is DenyCode.AGENT_INACTIVE


def test_a_deny_names_what_the_registry_does_not_know() -> None:
    engine = _engine('@id("sensitive")\nforbid(principal, action, resource) when { resource.sensitivity == "secret" };')
    known = engine.evaluate(AuthzRequest(EntityRef("Agent", "other"), "read", EntityRef("Tool", "billing.refund")))
    assert (known.deny_code, known.request_access_possible) == (DenyCode.NO_PERMIT, True)
    assert known.message == "no policy permits this; an access request could grant it"

    unknown = engine.evaluate(AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "helpdesk.x")))
    assert (unknown.allowed, unknown.deny_code, unknown.request_access_possible) == (
        False,
        DenyCode.EVALUATION_ERROR,
        False,
    )
    assert unknown.message == (
        'a policy failed to evaluate, so the request is denied (fail closed); resource Tool::"helpdesk.x" is not '
        "registered, so it has none of the attributes policies read: check the type and id, or register it"
    )
    both = engine.evaluate(AuthzRequest(EntityRef("User", "carol"), "read", EntityRef("Tool", "nope")))
    assert both.deny_code is DenyCode.EVALUATION_ERROR
    assert both.message.endswith(
        'principal User::"carol" and resource Tool::"nope" are not registered, so they have none of the attributes '
        "policies read: check the type and id, or register them"
    )
    forbidden = _engine('@id("no")\nforbid(principal, action, resource);').evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "read", EntityRef("Tool", "ghost-tool"))
    )
    assert forbidden.message == (
        'a forbid policy applies: no; resource Tool::"ghost-tool" is not registered: check the type and id, or '
        "register it"
    )
    # log-only mode reports it the same way; the guard's own reasons are unchanged
    logged = _engine("", mode=Mode.LOG_ONLY).evaluate(
        AuthzRequest(EntityRef("Agent", "summariser"), "write", EntityRef("Tool", "nope"))
    )
    assert logged.allowed and "not registered" in logged.message
