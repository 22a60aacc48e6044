"""Policy test case files: loading and checking them, running them through an evaluator, their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remit.policy import cases
from remit.policy.cases import SCHEMA_FILE, Case, CaseFileError, Outcome
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode

GOOD = """
description: helpdesk
cases:
  - name: summariser may read tickets
    principal: {type: agent, id: summariser, properties: {risk: 2}}
    action: call_tool
    resource: {type: mcp_server, id: helpdesk}
    context: {environment: prod}
    expect: allow
    policies: ["role:reader#0"]
  - name: custom types pass through
    principal: {type: User, id: alice}
    action: read
    resource: {type: Ticket, id: T-1}
    expect: deny
"""


def _case(**fields: object) -> Case:
    base: dict[str, object] = {
        "name": "c",
        "principal": {"type": "agent", "id": "a"},
        "action": "read",
        "resource": {"type": "tool", "id": "t"},
        "expect": "allow",
    }
    return Case.model_validate(base | fields)


def test_a_good_file_loads_into_requests() -> None:
    loaded = cases.load(GOOD)
    assert loaded.description == "helpdesk"
    first, second = (c.request() for c in loaded.cases)
    assert first == AuthzRequest(
        principal=EntityRef("Agent", "summariser"),
        action="call_tool",
        resource=EntityRef("McpServer", "helpdesk"),
        context={"environment": "prod"},
        principal_attrs={"risk": 2},
        resource_attrs=None,
    )
    assert (second.principal, second.resource) == (EntityRef("User", "alice"), EntityRef("Ticket", "T-1"))
    assert loaded.cases[0].expect is Effect.ALLOW and loaded.cases[1].policies is None


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("cases: [\n", None, "not valid YAML at line 2, column 1"),
        ("just text", "cases", "expected a mapping with a `cases` list"),
        ("cases: []", "cases", "cases must have at least one item"),
        ("cases: [{name: x}]", "cases[0].principal", 'cases[0].principal is required (case "x")'),
        (
            "cases: [{name: x, principal: {type: agent, id: a}, action: read, resource: {type: tool, id: t}, "
            "expect: allow, effect: deny}]",
            "cases[0].effect",
            "unknown field 'effect' in cases[0] (case \"x\")",
        ),
        (
            "cases: [{principal: {type: agent, id: ''}, action: read, resource: {type: tool, id: t}, expect: allow}]",
            "cases[0].name",
            "cases[0].name is required",
        ),
        (
            "cases: [{name: y, principal: {type: agent, id: a}, action: read, resource: {type: tool, id: t}, "
            "expect: allow, policies: [p, '']}]",
            "cases[0].policies[1]",
            'cases[0].policies[1] must not be empty (case "y")',
        ),
    ],
)
def test_a_bad_file_names_the_case_and_field(text: str, field: str | None, message: str) -> None:
    with pytest.raises(CaseFileError) as caught:
        cases.load(text)
    assert caught.value.code == "invalid_case_file"
    assert caught.value.field == field
    assert caught.value.message.startswith(message), caught.value.message


def test_load_file_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="cannot read it"):
        cases.load_file(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(CaseFileError, match="not UTF-8"):
        cases.load_file(binary)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert len(cases.load_file(good).cases) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases: []")
    with pytest.raises(CaseFileError) as caught:
        cases.load_file(bad)
    assert caught.value.message == f"{bad}: cases must have at least one item"


def test_run_reports_every_mismatch() -> None:
    answers = {
        "a": Outcome(Effect.ALLOW, ("p1", "p2")),
        "b": Outcome(Effect.DENY, ("f",), "forbidden"),
        "c": Outcome(Effect.ALLOW, None),  # an evaluator that does not say which policies
        "d": Outcome(Effect.ALLOW, ("p1",)),
    }
    suite = [
        _case(name="order does not matter", principal={"type": "agent", "id": "a"}, policies=["p2", "p1"]),
        _case(name="wrong decision and ids", principal={"type": "agent", "id": "b"}, policies=["g"]),
        _case(name="ids not known", principal={"type": "agent", "id": "c"}, policies=["x"]),
        _case(name="ids not asked", principal={"type": "agent", "id": "d"}),
    ]
    results = cases.run(suite, lambda request: answers[request.principal.id])
    assert [r.passed for r in results] == [True, False, True, True]
    assert results[1].mismatches == ("expected allow, got deny", "expected policies [g], got [f]")
    assert [r.ids_checked for r in results] == [True, True, False, False]
    assert results[1].as_json() == {
        "index": 1,
        "name": "wrong decision and ids",
        "passed": False,
        "expected": {"decision": "allow", "policies": ["g"]},
        "got": {"decision": "deny", "policies": ["f"], "detail": "forbidden"},
        "policies_checked": True,
        "mismatches": ["expected allow, got deny", "expected policies [g], got [f]"],
    }
    none = cases.run([_case(policies=[])], lambda _r: Outcome(Effect.ALLOW, ("p",)))
    assert none[0].mismatches == ("expected policies none, got [p]",)


def test_an_outcome_is_what_the_policies_decided() -> None:
    """Log-only mode tells the caller allow; a policy test compares the policies' own effect."""
    decision = Decision(
        decision_id="dec_1",
        allowed=True,
        effect=Effect.DENY,
        policy_version=3,
        mode=Mode.LOG_ONLY,
        reasons=("f",),
        errors=("g: boom",),
        deny_code=DenyCode.FORBIDDEN,
    )
    assert Outcome.of(decision) == Outcome(Effect.DENY, ("f",), "forbidden; g: boom")


def test_the_schema_file_is_generated_from_the_models() -> None:
    """Regenerate with ``SCHEMA_FILE.write_text(json.dumps(schema_document(), indent=2) + "\\n")``."""
    assert json.loads(SCHEMA_FILE.read_text()) == cases.schema_document()
    document = cases.schema_document()
    assert document["title"] == "Remit policy test cases"
    assert document["required"] == ["cases"]
    assert document["$defs"]["Case"]["additionalProperties"] is False
    assert document["$defs"]["Effect"]["enum"] == ["allow", "deny"]
