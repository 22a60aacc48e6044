"""``remit.policy.authzen`` and ``remit.policy.search`` without HTTP: candidates, paging, tokens, reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.errors import Forbidden
from remit.policy import search
from remit.policy.authzen import AuthZen, InvalidAuthZenRequest, _plain_request, decision_body, parse_json
from remit.policy.compile import BUILTIN_ACTIONS, RegistrySnapshot
from remit.policy.engine import PolicyEngine
from remit.policy.model import Decision, DenyCode, Effect, Mode, OnError
from remit.policy.search import Search
from remit.policy.state import PolicyInputs, compile_state
from remit.registry.models import Permission, Role, User, UserStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PEP = AdminPrincipal(actor="test:pep", role=AdminRole.PEP)
USERS = [f"u{i:02d}" for i in range(12)]
POLICIES = """
@id("even")
permit(principal is User, action == Action::"read", resource is doc) when { principal.even };
@id("grouped")
permit(principal, action in Action::"writers", resource is doc);
"""


def _engine(fragment: dict[str, Any] | None = None, *, policies: str = POLICIES) -> PolicyEngine:
    snapshot = RegistrySnapshot(
        agents=[],
        users=[
            User(u, f"{u}@example.org", u, UserStatus.ACTIVE, NOW, NOW, {"even": i % 2 == 0})
            for i, u in enumerate(USERS)
        ],
        roles=[Role("ops", "", (Permission(("restart",), "*"),), NOW, NOW)],
        resources=[],
    )
    extra: list[dict[str, Any]] = [
        {"uid": {"type": "doc", "id": d}, "attrs": {}, "parents": []} for d in ("d3", "d1", "d2")
    ] + [
        {"uid": {"type": "Action", "id": "edit"}, "attrs": {}, "parents": [{"type": "Action", "id": "writers"}]},
        {"uid": {"type": "Action", "id": "writers"}, "attrs": {}, "parents": []},
    ]
    inputs = PolicyInputs(
        version=1,
        revision=1,
        mode=Mode.ENFORCE,
        on_error=OnError.DENY,
        policies=policies,
        snapshot=snapshot,
        extra_entities=extra,
        schema_fragment=fragment,
    )
    return PolicyEngine(compile_state(inputs))


def test_candidate_actions_come_from_every_source_and_leave_out_groups() -> None:
    fragment = {"": {"actions": {"archive": {}, "publish": {"memberOf": [{"id": "releasers"}]}, "releasers": {}}}}
    state = _engine(fragment).state
    assert state is not None
    assert set(state.actions) == {*BUILTIN_ACTIONS, "restart", "edit", "archive", "publish"}
    assert list(state.actions) == sorted(state.actions)
    assert state.ids_of("doc") == ("d1", "d2", "d3")
    assert state.ids_of("User") == tuple(USERS)
    assert state.ids_of("spaceship") == ()


def test_action_search_finds_members_of_an_action_group() -> None:
    found = Search(_engine()).actions(
        PEP, {"subject": {"type": "user", "id": "u01"}, "resource": {"type": "doc", "id": "d1"}}
    )
    assert found == {"results": [{"name": "edit"}]}


def test_pages_continue_after_the_last_candidate_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine()
    query = {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "d1"}}
    searcher = Search(engine, max_page_size=4)
    everything = searcher.subjects(PEP, query)
    evens = [{"type": "user", "id": u} for u in USERS[::2]]
    assert everything["results"] == evens[:4] and everything["page"]["next_token"]  # clamped to the maximum

    monkeypatch.setattr(search, "MAX_SCAN", 3)  # a page may come back short; the token still moves on
    seen: list[dict[str, str]] = []
    page: dict[str, Any] = {"limit": 100}
    pages = 0
    while True:
        body = searcher.subjects(PEP, {**query, "page": page})
        pages += 1
        seen += body["results"]
        assert len(body["results"]) <= 2
        if not body["page"]["next_token"]:
            break
        page = {"token": body["page"]["next_token"]}
    assert seen == evens and pages == 4
    with pytest.raises(InvalidAuthZenRequest) as caught:
        searcher.subjects(PEP, {**query, "action": {"name": "write"}, "page": page})
    assert (caught.value.code, caught.value.field) == ("invalid_authzen_request", "page.token")


def test_an_engine_with_nothing_compiled_denies_and_finds_nothing() -> None:
    engine = PolicyEngine()
    body = AuthZen(engine).evaluation(
        PEP, {"subject": {"type": "user", "id": "a"}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}
    )
    assert (body["decision"], body["context"]["reason"]["code"]) == (False, "no_policies")
    query = {"subject": {"type": "user", "id": "a"}, "action": {"name": "r"}, "resource": {"type": "doc"}}
    assert Search(engine).resources(PEP, query) == {"results": []}


def test_only_roles_that_may_evaluate_get_answers() -> None:
    owner = AdminPrincipal(actor="test:owner", role=AdminRole.OWNER, user_id="u00")
    with pytest.raises(Forbidden):
        AuthZen(_engine()).evaluation(owner, {})
    with pytest.raises(Forbidden):
        Search(_engine()).actions(owner, {})


def test_reasons_name_erroring_policies_by_id_only() -> None:
    decision = Decision(
        decision_id="dec_x",
        allowed=False,
        effect=Effect.DENY,
        policy_version=3,
        mode=Mode.ENFORCE,
        errors=("role:ops#0: while evaluating policy `role:ops#0`: attribute `secret` not found",),
        deny_code=DenyCode.EVALUATION_ERROR,
        message="a policy failed to evaluate",
    )
    reason = decision_body(decision)["context"]["reason"]
    assert reason == {
        "code": "evaluation_error",
        "message": "a policy failed to evaluate",
        "policies": [],
        "access_request_possible": False,
        "errored_policies": ["role:ops#0"],
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"{", "not valid JSON"),
        (b'{"a": Infinity}', "not valid JSON"),
        (b"[" * 50_000, "nested too deeply"),
    ],
)
def test_bodies_that_are_not_json_are_refused_with_the_reason(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidAuthZenRequest) as caught:
        parse_json(raw)
    assert caught.value.field == "body" and message in caught.value.message


def test_properties_cedar_cannot_hold_are_a_400_naming_them() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(20):
        cursor["x"] = {}
        cursor = cursor["x"]
    body = {"subject": {"type": "user", "id": "a"}, "action": {"name": "r"}, "resource": {"type": "d", "id": "1"}}
    with pytest.raises(InvalidAuthZenRequest) as caught:
        AuthZen(_engine()).evaluation(PEP, {**body, "context": deep})
    assert caught.value.field == "context"
    huge = {**body, "resource": {"type": "d", "id": "1", "properties": {"big": 1e300, "small": 1e-300}}}
    assert AuthZen(_engine()).evaluation(PEP, huge)["decision"] is False  # converted, evaluated, denied


def _body(subject: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"subject": subject, "action": action, "resource": resource, **extra}


_S, _A, _R = {"type": "user", "id": "u01"}, {"name": "read"}, {"type": "doc", "id": "d1"}


@pytest.mark.parametrize(
    "body",
    [
        _body(_S, _A, _R),
        _body(_S, _A, _R, context=None),
        _body(_S, _A, _R, context={"risk": 3, "ip": "10.0.0.1", "mfa": True, "big": 2**63 - 1}),
        _body({"type": "Agent", "id": "bot"}, {"name": "call_tool"}, {"type": "TOOL", "id": ""}),
        _body({"type": "agent", "id": "spiffe://remit.local/agent/bot"}, _A, _R),
        _body({"type": "user", "id": "u01", "properties": None}, _A, _R),
    ],
)
def test_the_one_pass_check_builds_the_request_the_member_checks_build(body: dict[str, Any]) -> None:
    engine = _engine()
    az = AuthZen(engine)
    assert _plain_request(body, engine.state) == az.checked_request(body) == az.request(body)


@pytest.mark.parametrize(
    "body",
    [
        _body(None, _A, _R),
        _body(_S, None, _R),
        _body(_S, _A, {"type": "doc"}),
        _body({"type": "", "id": "x"}, _A, _R),
        _body({"type": "user", "id": 7}, _A, _R),
        _body(_S, {"name": ""}, _R),
        _body(_S, {"name": "r" * 257}, _R),
        _body({"type": "t" * 257, "id": "x"}, _A, _R),
        _body(_S, _A, {"type": "doc", "id": "i" * 1025}),
        _body({"type": "user", "id": "u01", "properties": {"even": True}}, _A, _R),
        _body(_S, {"name": "read", "properties": {}}, _R),
        _body(_S, _A, _R, context={"nested": {"a": 1}}),
        _body(_S, _A, _R, context={"amount": 1.5}),
        _body(_S, _A, _R, context={"huge": 2**63}),
        _body(_S, _A, _R, context={"gone": None}),
        _body(_S, _A, _R, context=[]),
    ],
)
def test_anything_but_the_usual_body_is_left_to_the_member_checks(body: dict[str, Any]) -> None:
    engine = _engine()
    assert _plain_request(body, engine.state) is None
    try:
        expected: Any = AuthZen(engine).checked_request(body)
    except InvalidAuthZenRequest as exc:
        with pytest.raises(InvalidAuthZenRequest) as caught:
            AuthZen(engine).request(body)
        assert (caught.value.field, caught.value.message) == (exc.field, exc.message)
    else:
        assert AuthZen(engine).request(body) == expected
