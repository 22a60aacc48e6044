"""``build``: the decision path's cheap construction of ``AuthzRequest`` and ``Decision`` makes what the class's
own constructor makes, and what it makes is as frozen as ever."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from remit.policy import cedar
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode, build

AGENT = EntityRef("Agent", "bot")
TOOL = EntityRef("Tool", "jira.get_issue")


def _decision_fields() -> dict[str, Any]:
    return {
        "decision_id": "dec_1",
        "allowed": False,
        "effect": Effect.DENY,
        "policy_version": 3,
        "mode": Mode.ENFORCE,
        "reasons": ("p1",),
        "errors": (),
        "deny_code": DenyCode.FORBIDDEN,
        "message": "a forbid policy applies: p1",
        "eval_us": 12.5,
        "request_access_possible": False,
    }


def _request_fields() -> dict[str, Any]:
    return {
        "principal": AGENT,
        "action": "read",
        "resource": TOOL,
        "context": {"risk": 1},
        "principal_attrs": None,
        "resource_attrs": None,
        "action_attrs": None,
    }


@pytest.mark.parametrize(("cls", "fields"), [(Decision, _decision_fields), (AuthzRequest, _request_fields)])
def test_build_makes_what_the_constructor_makes(cls: Any, fields: Any) -> None:
    built, constructed = build(cls, fields()), cls(**fields())
    assert type(built) is cls
    assert built == constructed
    assert repr(built) == repr(constructed)
    assert [f.name for f in dataclasses.fields(cls)] == list(fields())  # every field, in order
    assert dataclasses.replace(built) == constructed


def test_what_build_makes_is_frozen() -> None:
    decision = build(Decision, _decision_fields())
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = True  # type: ignore[misc]
    request = build(AuthzRequest, _request_fields())
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.action = "write"  # type: ignore[misc]
    assert decision.would_deny and hash(decision) == hash(Decision(**_decision_fields()))


def test_a_request_gets_a_context_of_its_own_by_default() -> None:
    a, b = AuthzRequest(AGENT, "call_tool", TOOL), AuthzRequest(AGENT, "call_tool", TOOL)
    assert a == b and a.context == {} and a.context is not b.context


def test_cedar_results_are_built_as_constructed() -> None:
    built = tuple.__new__(cedar.RawResult, (True, ("p",), ()))
    assert built == cedar.RawResult(allowed=True, reasons=("p",), errors=())
