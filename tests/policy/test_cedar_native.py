"""The engine's direct call into cedarpy's native evaluator decides exactly as cedarpy's public ``is_authorized``.

``remit.policy.cedar.evaluate`` skips cedarpy's Python layer on the hot path (see the module). These tests run
both paths on the same requests: allows, denies, forbids, evaluation errors, entity lists and handles, and bad
requests, so that a cedarpy upgrade that changes the native answer fails here, not in production.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from remit.policy import cedar
from remit.policy.model import EntityRef

POLICIES = """
@id("read-docs")
permit (principal in Role::"reader", action == Action::"read", resource in Folder::"docs");

@id("no-secret")
forbid (principal, action, resource) when { resource.secret };

@id("risk")
forbid (principal, action == Action::"read", resource) when { context.risk > 70 };

@id("needs-attr")
permit (principal, action == Action::"write", resource) when { principal.clearance > 2 };

@id("amount")
permit (principal, action == Action::"pay", resource) when { context.arguments.amount < 500 };
"""

ENTITIES: list[dict[str, Any]] = [
    {"uid": {"type": "Role", "id": "reader"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Agent", "id": "bot"}, "attrs": {"clearance": 3}, "parents": [{"type": "Role", "id": "reader"}]},
    {"uid": {"type": "Agent", "id": "plain"}, "attrs": {}, "parents": [{"type": "Role", "id": "reader"}]},
    {"uid": {"type": "Folder", "id": "docs"}, "attrs": {}, "parents": []},
    {"uid": {"type": "Doc", "id": "readme"}, "attrs": {"secret": False}, "parents": [{"type": "Folder", "id": "docs"}]},
    {"uid": {"type": "Doc", "id": "keys"}, "attrs": {"secret": True}, "parents": [{"type": "Folder", "id": "docs"}]},
    {"uid": {"type": "Doc", "id": "loose"}, "attrs": {}, "parents": [{"type": "Folder", "id": "docs"}]},
]

BOT, PLAIN = EntityRef("Agent", "bot"), EntityRef("Agent", "plain")
README, KEYS, LOOSE = EntityRef("Doc", "readme"), EntityRef("Doc", "keys"), EntityRef("Doc", "loose")

CASES: list[tuple[EntityRef, str, EntityRef, dict[str, Any], bool]] = [
    (BOT, "read", README, {"risk": 10}, True),
    (BOT, "read", README, {"risk": 90}, False),  # a forbid on context
    (BOT, "read", KEYS, {"risk": 10}, False),  # a forbid on an attribute
    (BOT, "read", LOOSE, {"risk": 10}, True),  # no-secret errors (no such attribute): skipped by Cedar
    (BOT, "write", README, {}, True),
    (PLAIN, "write", README, {}, False),  # needs-attr errors: no permit
    (BOT, "pay", README, {"arguments": {"amount": 100}}, True),
    (BOT, "pay", README, {"arguments": {"amount": 900}}, False),
    # risk errors on the missing context member, so bare Cedar skips the forbid and allows (the engine, not this
    # module, turns that into a deny: tests/policy/test_engine.py)
    (BOT, "read", README, {}, True),
    (EntityRef("Agent", "ghost"), "read", README, {"risk": 1}, False),  # not stored
]


@pytest.fixture(scope="module")
def policies() -> cedar.PolicySetHandle:
    return cedar.policy_set(cedar.parse(POLICIES))


def test_the_native_path_is_in_use_with_the_locked_cedarpy() -> None:
    assert cedar.native_available()


@pytest.mark.parametrize("as_list", [False, True], ids=["entity-handle", "entity-list"])
@pytest.mark.parametrize(("principal", "action", "resource", "context", "_expected"), CASES)
def test_native_and_public_agree(
    policies: cedar.PolicySetHandle,
    as_list: bool,
    principal: EntityRef,
    action: str,
    resource: EntityRef,
    context: dict[str, Any],
    _expected: bool,
) -> None:
    entities: Any = ENTITIES if as_list else cedar.entities(ENTITIES)
    native = cedar.evaluate(principal, action, resource, context, policies, entities)
    public = cedar.evaluate_public(principal, action, resource, context, policies, entities)
    assert native == public


def test_the_answers_are_the_expected_ones(policies: cedar.PolicySetHandle) -> None:
    entities = cedar.entities(ENTITIES)
    got = [cedar.evaluate(p, a, r, c, policies, entities).allowed for p, a, r, c, _ in CASES]
    assert got == [expected for *_, expected in CASES]
    loose = cedar.evaluate(BOT, "read", LOOSE, {"risk": 10}, policies, entities)
    assert loose.reasons == ("read-docs",)
    assert [pid for pid, _ in loose.errors] == ["no-secret"]
    skipped = cedar.evaluate(BOT, "read", README, {}, policies, entities)
    assert [pid for pid, _ in skipped.errors] == ["risk"]


def test_a_request_cedar_cannot_build_is_not_allowed_and_says_why(policies: cedar.PolicySetHandle) -> None:
    entities = cedar.entities(ENTITIES)
    bad = EntityRef("Not A Type", "x")
    native = cedar.evaluate(bad, "read", README, {}, policies, entities)
    assert native == cedar.evaluate_public(bad, "read", README, {}, policies, entities)
    assert not native.allowed
    assert native.reasons == ()
    assert "failed to build request" in native.errors[0][1]


@pytest.mark.parametrize(("principal", "action", "resource", "context", "_expected"), CASES)
def test_the_answer_is_read_as_the_whole_document_says(
    policies: cedar.PolicySetHandle,
    principal: EntityRef,
    action: str,
    resource: EntityRef,
    context: dict[str, Any],
    _expected: bool,
) -> None:
    # The native answer is read without decoding its metrics; the members read must be the document's own.
    request = {
        "principal": principal.as_json(),
        "action": {"type": "Action", "id": action},
        "resource": resource.as_json(),
        "context": json.dumps(context),
    }
    (answer,) = cedar._native_batch([request], policies, cedar.entities(ENTITIES)._inner, None, False)
    whole = json.loads(answer)
    assert cedar._read_answer(answer) == (whole["decision"], whole["diagnostics"])


def test_an_answer_of_another_shape_is_decoded_whole() -> None:
    moved = '{"correlation_id":null,"decision":"Deny","diagnostics":{"reason":["p"],"errors":[]}}'
    assert cedar._read_answer(moved) == ("Deny", {"reason": ["p"], "errors": []})
    no_diagnostics = '{"decision":"Allow","correlation_id":"c","metrics":{}}'
    assert cedar._read_answer(no_diagnostics) == ("Allow", {})
