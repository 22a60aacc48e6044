"""The in-memory engine for testing policies before they are applied: the same checks as a write, no store."""

from __future__ import annotations

from typing import Any

import pytest

from remit.policy import sandbox
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.policy.model import AuthzRequest, DenyCode, Effect, EntityRef, OnError

TICKETS: dict[str, Any] = {
    "": {
        "entityTypes": {"Ticket": {"shape": {"type": "Record", "attributes": {"priority": {"type": "Long"}}}}},
        "actions": {
            "read": {
                "appliesTo": {
                    "principalTypes": ["User"],
                    "resourceTypes": ["Ticket"],
                }
            }
        },
    }
}
ENTITIES = [{"uid": {"type": "Ticket", "id": "T-1"}, "attrs": {"priority": 1}, "parents": []}]


def _read(ticket: str) -> AuthzRequest:
    return AuthzRequest(EntityRef("User", "carol"), "read", EntityRef("Ticket", ticket))


def test_an_engine_over_text_schema_and_entities() -> None:
    engine = sandbox.build_engine(
        '@id("low")\npermit(principal, action == Action::"read", resource) when { resource.priority < 2 };',
        schema_fragment=TICKETS,
        extra_entities=ENTITIES,
    )
    allowed = engine.evaluate(_read("T-1"))
    assert (allowed.effect, allowed.reasons, allowed.policy_version) == (Effect.ALLOW, ("low",), 0)
    unknown = engine.evaluate(_read("T-2"))  # not stored: `priority` is missing, an evaluation error
    assert (unknown.effect, unknown.deny_code) == (Effect.DENY, DenyCode.EVALUATION_ERROR)


def test_on_error_skip_is_honoured() -> None:
    engine = sandbox.build_engine(
        '@id("low")\npermit(principal, action == Action::"read", resource) when { resource.priority < 2 };',
        schema_fragment=TICKETS,
        extra_entities=ENTITIES,
        on_error=OnError.SKIP,
    )
    assert engine.evaluate(_read("T-2")).deny_code is DenyCode.NO_PERMIT


def test_the_checks_of_a_write() -> None:
    with pytest.raises(PolicySyntaxError) as syntax:
        sandbox.build_engine("permit(principal, action resource);")
    assert (syntax.value.code, syntax.value.line, syntax.value.column) == ("policy_syntax_error", 1, 26)

    with pytest.raises(PolicyValidationError) as reserved:
        sandbox.build_engine('@id("role:x#0")\npermit(principal, action, resource);')
    assert "reserved for role policies" in reserved.value.message

    with pytest.raises(PolicyValidationError) as invalid:
        sandbox.build_engine('@id("t")\npermit(principal, action, resource is Ticket);')
    assert invalid.value.code == "policy_invalid"
    assert "unrecognized entity type `Ticket`" in invalid.value.problems[0]

    with pytest.raises(PolicyValidationError, match="defined by the registry"):
        sandbox.build_engine(
            "permit(principal, action, resource);", schema_fragment={"": {"entityTypes": {"Agent": {}}}}
        )

    with pytest.raises(PolicyValidationError, match="come from the registry"):
        sandbox.build_engine("", extra_entities=[{"uid": {"type": "User", "id": "x"}, "attrs": {}, "parents": []}])

    with pytest.raises(PolicyValidationError, match="JSON array"):
        sandbox.build_engine("", extra_entities={"not": "a list"})


def test_no_policies_deny_everything() -> None:
    decision = sandbox.build_engine("").evaluate(_read("T-1"))
    assert decision.deny_code is DenyCode.NO_POLICIES
