"""The registry's pure rules: the agent lifecycle, attribute bounds and resource nesting."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from remit.errors import InvalidTransition, ValidationError
from remit.registry.models import (
    MAX_ATTR_SET,
    MAX_ATTR_STRING,
    MAX_ATTRIBUTES,
    Agent,
    AgentAction,
    AgentStatus,
    Attributes,
    Resource,
    ResourceKind,
    RiskTier,
    Sensitivity,
    check_attributes,
    check_parent,
    check_text,
    spiffe_id,
    transition,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)

A = AgentStatus
V = AgentAction


def make_agent(status: AgentStatus = AgentStatus.ACTIVE) -> Agent:
    return Agent(
        name="research-bot",
        spiffe_id=spiffe_id("remit.local", "research-bot"),
        owner="alice",
        purpose="reads papers",
        status=status,
        status_reason="registered",
        team="research",
        environment="production",
        risk_tier=RiskTier.MEDIUM,
        clearance=2,
        created_at=T0,
        updated_at=T0,
        review_due_at=T0 + timedelta(days=90),
    )


def make_resource(kind: ResourceKind, rid: str = "parent") -> Resource:
    return Resource(
        id=rid,
        kind=kind,
        display_name=rid,
        parent=None,
        sensitivity=Sensitivity.INTERNAL,
        data_classes=(),
        created_at=T0,
        updated_at=T0,
    )


# -- lifecycle ----------------------------------------------------------------------------------------------

#: every (from, verb) the lifecycle allows, written out rather than read from ``TRANSITIONS``
ALLOWED: dict[tuple[AgentStatus, AgentAction], AgentStatus] = {
    (A.ACTIVE, V.SUSPEND): A.SUSPENDED,
    (A.ACTIVE, V.QUARANTINE): A.QUARANTINED,
    (A.ACTIVE, V.RETIRE): A.RETIRED,
    (A.SUSPENDED, V.RESUME): A.ACTIVE,
    (A.SUSPENDED, V.QUARANTINE): A.QUARANTINED,
    (A.SUSPENDED, V.RETIRE): A.RETIRED,
    (A.QUARANTINED, V.SUSPEND): A.SUSPENDED,
    (A.QUARANTINED, V.RESUME): A.ACTIVE,
    (A.QUARANTINED, V.RETIRE): A.RETIRED,
}
REFUSED = [pair for pair in itertools.product(AgentStatus, AgentAction) if pair not in ALLOWED]


def test_refused_table_is_the_complement() -> None:
    assert len(ALLOWED) + len(REFUSED) == len(AgentStatus) * len(AgentAction)
    assert set(REFUSED) == {
        (A.ACTIVE, V.RESUME),
        (A.SUSPENDED, V.SUSPEND),
        (A.QUARANTINED, V.QUARANTINE),
        (A.RETIRED, V.SUSPEND),
        (A.RETIRED, V.RESUME),
        (A.RETIRED, V.QUARANTINE),
        (A.RETIRED, V.RETIRE),
    }


@pytest.mark.parametrize(
    ("start", "verb", "target"),
    [(s, v, t) for (s, v), t in ALLOWED.items()],
    ids=[f"{s.value}/{v.value}" for s, v in ALLOWED],
)
def test_allowed_transition(start: AgentStatus, verb: AgentAction, target: AgentStatus) -> None:
    before = make_agent(start)
    after = transition(before, verb, "  incident 42  ", T1)
    assert after.status is target
    assert after.status_reason == "incident 42"  # stripped
    assert after.updated_at == T1
    # nothing else moves
    assert replace(after, status=start, status_reason=before.status_reason, updated_at=T0) == before
    assert before.status is start  # the input is not mutated (frozen)


@pytest.mark.parametrize(("start", "verb"), REFUSED, ids=[f"{s.value}/{v.value}" for s, v in REFUSED])
def test_refused_transition(start: AgentStatus, verb: AgentAction) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(make_agent(start), verb, "because", T1)
    exc = info.value
    assert exc.code == "invalid_transition"
    assert isinstance(exc, ValidationError)  # maps like any invalid request
    assert f"cannot {verb.value} an agent that is {start.value}" in exc.message


@pytest.mark.parametrize("verb", list(AgentAction), ids=[v.value for v in AgentAction])
def test_retired_is_final(verb: AgentAction) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(make_agent(A.RETIRED), verb, "try again", T1)
    assert "it is final" in info.value.message


def test_refusal_names_the_verbs_that_are_allowed() -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(make_agent(A.ACTIVE), V.RESUME, "why", T1)
    assert "allowed from active: quarantine, retire, suspend" in info.value.message


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"], ids=["empty", "spaces", "whitespace"])
def test_transition_needs_a_reason(reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        transition(make_agent(A.ACTIVE), V.SUSPEND, reason, T1)
    assert type(info.value) is ValidationError
    assert info.value.code == "invalid_request"
    assert info.value.field == "reason"


def test_reason_is_checked_before_the_lifecycle() -> None:
    with pytest.raises(ValidationError) as info:
        transition(make_agent(A.RETIRED), V.RESUME, "", T1)
    assert info.value.field == "reason"
    assert not isinstance(info.value, InvalidTransition)


def test_spiffe_id() -> None:
    assert spiffe_id("example.org", "bot-1") == "spiffe://example.org/agent/bot-1"


# -- attributes -------------------------------------------------------------------------------------------


def test_attributes_of_every_kind_are_kept() -> None:
    attrs: Attributes = {
        "flag": True,
        "off": False,
        "count": 7,
        "zero": 0,
        "label": "eu-west",
        "tags": ("b", "a", "b"),
    }
    assert check_attributes(attrs) == {
        "flag": True,
        "off": False,
        "count": 7,
        "zero": 0,
        "label": "eu-west",
        "tags": ("a", "b"),  # a set: sorted, without duplicates
    }


def test_list_attribute_becomes_a_sorted_tuple() -> None:
    raw: dict[str, object] = {"tags": ["z", "y"]}
    assert check_attributes(raw) == {"tags": ("y", "z")}  # type: ignore[arg-type]


def test_bool_is_not_treated_as_int() -> None:
    out = check_attributes({"flag": True})
    assert out["flag"] is True


@pytest.mark.parametrize(
    "key",
    ["a", "snake_case", "x1", "a" * 63],
)
def test_attribute_key_accepted(key: str) -> None:
    assert check_attributes({key: 1}) == {key: 1}


@pytest.mark.parametrize(
    "key",
    ["", "Upper", "1abc", "_x", "with-dash", "with.dot", "with space", "a" * 64, "ümlaut", "k\n", "k\x00"],
    ids=["empty", "upper", "digit-first", "underscore-first", "dash", "dot", "space", "64", "unicode", "nl", "nul"],
)
def test_attribute_key_refused(key: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_attributes({key: 1}, field_name="attrs")
    assert info.value.code == "invalid_request"
    assert info.value.field == f"attrs.{key}"


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0, -1])
def test_64_bit_integers_accepted(value: int) -> None:
    assert check_attributes({"n": value}) == {"n": value}


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_refused(value: int) -> None:
    with pytest.raises(ValidationError) as info:
        check_attributes({"n": value})
    assert info.value.field == "attributes.n"
    assert "64-bit" in info.value.message


@pytest.mark.parametrize(
    "value",
    [1.5, None, {"a": 1}, b"bytes", ("a", 1), ["a", None], [["nested"]]],
    ids=["float", "none", "dict", "bytes", "mixed-tuple", "list-with-none", "nested-list"],
)
def test_other_value_types_refused(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_attributes({"v": value})  # type: ignore[dict-item]
    assert info.value.field == "attributes.v"


def test_list_of_strings_is_bounded() -> None:
    full = tuple(f"t{i:02d}" for i in range(MAX_ATTR_SET))
    assert check_attributes({"tags": full})["tags"] == full
    with pytest.raises(ValidationError) as info:
        check_attributes({"tags": tuple(f"t{i}" for i in range(MAX_ATTR_SET + 1))})
    assert info.value.field == "attributes.tags"


def test_number_of_attributes_is_bounded() -> None:
    many: Attributes = {f"k{i}": i for i in range(MAX_ATTRIBUTES)}
    assert check_attributes(many) == many
    many["one_more"] = 1
    with pytest.raises(ValidationError) as info:
        check_attributes(many)
    assert info.value.field == "attributes"
    assert str(MAX_ATTRIBUTES) in info.value.message


def test_string_length_is_bounded() -> None:
    assert check_attributes({"s": "x" * MAX_ATTR_STRING}) == {"s": "x" * MAX_ATTR_STRING}
    with pytest.raises(ValidationError) as info:
        check_attributes({"s": "x" * (MAX_ATTR_STRING + 1)})
    assert info.value.field == "attributes.s"
    with pytest.raises(ValidationError) as info:
        check_attributes({"tags": ("ok", "y" * (MAX_ATTR_STRING + 1))})
    assert info.value.field == "attributes.tags"


@pytest.mark.parametrize("bad", ["a\x00b", "bell\x07", "esc\x1b[0m", "cr\r", "\x1f"], ids=repr)
def test_control_characters_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_attributes({"s": bad})
    assert info.value.field == "attributes.s"
    assert "control characters" in info.value.message
    with pytest.raises(ValidationError) as info:
        check_attributes({"tags": ("fine", bad)})
    assert info.value.field == "attributes.tags"


def test_tab_and_newline_are_text() -> None:
    assert check_text("line one\n\tline two", "f", 100) == "line one\n\tline two"


def test_check_text_bounds() -> None:
    assert check_text("abc", "purpose", 3) == "abc"
    with pytest.raises(ValidationError) as info:
        check_text("abcd", "purpose", 3)
    assert info.value.field == "purpose"
    assert info.value.message == "at most 3 characters"


# -- resource nesting -------------------------------------------------------------------------------------

K = ResourceKind

#: (child kind, parent kind) pairs that may nest; every other pair is refused
NESTING = {
    (K.DATASET, K.APP),
    (K.ENDPOINT, K.APP),
    (K.TOOL, K.MCP_SERVER),
    (K.TOOL, K.APP),
}
ALL_PAIRS = list(itertools.product(ResourceKind, ResourceKind))


@pytest.mark.parametrize("kind", list(ResourceKind), ids=[k.value for k in ResourceKind])
def test_every_kind_may_be_a_root(kind: ResourceKind) -> None:
    check_parent(kind, None, None)


@pytest.mark.parametrize(
    ("child", "parent"),
    [p for p in ALL_PAIRS if p in NESTING],
    ids=[f"{c.value}-under-{p.value}" for c, p in ALL_PAIRS if (c, p) in NESTING],
)
def test_parent_allowed(child: ResourceKind, parent: ResourceKind) -> None:
    check_parent(child, make_resource(parent), "parent")


@pytest.mark.parametrize(
    ("child", "parent"),
    [p for p in ALL_PAIRS if p not in NESTING],
    ids=[f"{c.value}-under-{p.value}" for c, p in ALL_PAIRS if (c, p) not in NESTING],
)
def test_parent_refused(child: ResourceKind, parent: ResourceKind) -> None:
    with pytest.raises(ValidationError) as info:
        check_parent(child, make_resource(parent), "parent")
    assert info.value.code == "invalid_request"
    assert info.value.field == "parent"


@pytest.mark.parametrize("kind", [K.APP, K.MCP_SERVER], ids=["app", "mcp_server"])
def test_roots_cannot_have_a_parent(kind: ResourceKind) -> None:
    with pytest.raises(ValidationError) as info:
        check_parent(kind, make_resource(K.APP), "parent")
    assert info.value.message == f"a resource of kind {kind.value} cannot have a parent"


def test_missing_parent() -> None:
    with pytest.raises(ValidationError) as info:
        check_parent(K.TOOL, None, "ghost")
    assert info.value.field == "parent"
    assert info.value.message == "parent resource 'ghost' does not exist"


def test_wrong_parent_kind_names_the_allowed_ones() -> None:
    with pytest.raises(ValidationError) as info:
        check_parent(K.TOOL, make_resource(K.DATASET), "parent")
    assert info.value.message == "a tool can only sit under: app, mcp_server (not dataset)"
