"""``remit policy`` and ``remit entities`` in local mode: versions, validation errors, the mode, policy tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.conftest import Run

AGENT = "support-ticket-summariser"
FORBID_CLOSE = """@id("no-close-in-prod")
forbid(principal is Agent, action == Action::"call_tool", resource == Tool::"helpdesk.close_ticket")
when { context has environment && context.environment == "prod" };
"""
PERMIT_READ = f"""@id("summariser-reads")
permit(principal == Agent::"{AGENT}", action == Action::"read", resource in McpServer::"helpdesk");
"""
CASES = f"""
# yaml-language-server: $schema=../../src/remit/policy/cases.schema.json
cases:
  - name: summariser may call get_ticket
    principal: {{type: agent, id: {AGENT}}}
    action: call_tool
    resource: {{type: tool, id: helpdesk.get_ticket}}
    expect: allow
    policies: ["role:ticket-reader#0"]
  - name: nobody closes tickets in prod
    principal: {{type: agent, id: {AGENT}}}
    action: call_tool
    resource: {{type: tool, id: helpdesk.close_ticket}}
    context: {{environment: prod}}
    expect: deny
    policies: [no-close-in-prod]
  - name: an unregistered agent is denied
    principal: {{type: agent, id: ghost}}
    action: read
    resource: {{type: mcp_server, id: helpdesk}}
    expect: deny
"""

pytestmark = pytest.mark.usefixtures("estate")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A directory of policy, case and entity files."""
    d = tmp_path / "files"
    d.mkdir()
    (d / "forbid.cedar").write_text(FORBID_CLOSE)
    (d / "read.cedar").write_text(PERMIT_READ)
    (d / "cases.yaml").write_text(CASES)
    return d


@pytest.fixture
def agent(estate: None, ok: Callable[..., Result]) -> None:
    ok("agent", "create", AGENT, "--owner", "alice")
    ok("role", "create", "ticket-reader", "--permission", "call_tool:helpdesk.get_ticket")
    ok("role", "assign", "ticket-reader", "--agent", AGENT)


def test_apply_list_show_diff_activate_rollback(
    files: Path, run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]
) -> None:
    v1 = as_json("policy", "apply", str(files / "forbid.cedar"), "--comment", "first")
    assert (v1["version"], v1["active"], v1["on_error"], v1["comment"]) == (1, True, "deny", "first")
    assert v1["created_by"].startswith("local:") and v1["policies"] == FORBID_CLOSE and v1["schema"] is None

    # a directory stands for its *.cedar files in name order; --no-activate stores without activating
    v2 = as_json("policy", "apply", str(files), "--no-activate", "--on-error", "skip")
    assert (v2["version"], v2["active"], v2["on_error"]) == (2, False, "skip")
    assert v2["policies"] == FORBID_CLOSE + PERMIT_READ

    listed = as_json("policy", "list")
    assert [(v["version"], v["active"]) for v in listed] == [(2, False), (1, True)]
    assert set(listed[0]) == {"version", "digest", "comment", "on_error", "created_at", "created_by", "active"}
    assert "first" in ok("policy", "list").stdout

    shown = ok("policy", "show")
    assert shown.stdout == FORBID_CLOSE  # only the text on stdout: it can be saved as a .cedar file
    assert "version 1 (active)" in shown.stderr
    assert as_json("policy", "show", "2") == v2

    diff = ok("policy", "diff", "1", "2").stdout
    assert "--- version 1" in diff and "+++ version 2" in diff and '+@id("summariser-reads")' in diff
    assert "no differences" in ok("policy", "diff", "1").stderr  # TO defaults to the active version

    status = as_json("policy", "activate", "2", "--reason", "ship it")
    assert status["active_version"] == 2
    assert as_json("policy", "rollback", "--reason", "too wide")["active_version"] == 1
    assert as_json("policy", "rollback", "--to", "2")["active_version"] == 2
    assert as_json("policy", "status") == {**status, "revision": as_json("policy", "status")["revision"]}

    missing = run("policy", "show", "9")
    assert missing.exit_code == 1 and "no such policy version" in missing.stderr
    events = as_json("events", "--target-type", "policy")
    assert [(e["action"], e["target_id"], e["reason"]) for e in events] == [
        ("policy.activate", "2", "rollback"),
        ("policy.activate", "1", "too wide"),
        ("policy.activate", "2", "ship it"),
        ("policy.apply", "2", ""),
        ("policy.apply", "1", ""),
    ]


def test_invalid_policies_are_refused_with_their_position(files: Path, tmp_path: Path, run: Run) -> None:
    broken = tmp_path / "broken.cedar"
    broken.write_text(
        '@id("a")\npermit(principal, action, resource);\n\n@id("b")\npermit(principal, action resource);\n'
    )
    result = run("policy", "apply", str(files / "forbid.cedar"), str(broken))
    assert result.exit_code == 1
    # the position is given in the file it is in, not in the joined text
    assert f"{broken}: line 5, column 26: unexpected token `resource`" in result.stderr
    assert "unexpected token" in result.stderr

    unknown = tmp_path / "unknown.cedar"
    unknown.write_text(
        '@id("c")\npermit(principal is Agent, action, resource) when { principal.shoe_size == 1 };\n'
        '@id("d")\npermit(principal is Agent, action, resource) when { principal.hat == "x" };\n'
    )
    invalid = run("policy", "apply", str(unknown))
    assert invalid.exit_code == 1
    lines = invalid.stderr.splitlines()
    assert "policy c:" in lines[0] and "attribute `shoe_size` on entity type `Agent` not found" in lines[0]
    assert "(and 1 more)" in lines[0]
    assert any("policy d:" in line and "`hat`" in line for line in lines[1:])  # every problem is listed

    reserved = tmp_path / "reserved.cedar"
    reserved.write_text('@id("role:x#0")\npermit(principal, action, resource);\n')
    assert "reserved" in run("policy", "apply", str(reserved)).stderr
    assert run("policy", "list", "--json").stdout.strip() == "[]"  # nothing was stored

    valid = run("policy", "validate", str(files))
    assert valid.exit_code == 0 and "valid: 2 policies" in valid.stdout
    assert run("policy", "validate", str(broken)).exit_code == 1
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert "no *.cedar files" in run("policy", "apply", str(empty_dir)).stderr


def test_a_syntax_error_shows_its_line_with_a_caret_in_its_own_file(files: Path, tmp_path: Path, run: Run) -> None:
    first = tmp_path / "first.cedar"
    first.write_text('@id("a")\npermit(principal, action, resource)')  # no ';' at the end of the file
    second = tmp_path / "second.cedar"
    second.write_text('\n@id("b")\npermit(principal, action, resource) when {\n\tcontext.x == "y" && };\n')
    for validate in ("validate", "apply"):
        missing = run("policy", validate, str(first), str(files / "read.cedar"))
        assert missing.exit_code == 1
        assert missing.stderr.splitlines() == [
            f"error: {files / 'read.cedar'}: line 1, column 1: unexpected token `@` (is a ';' missing after the "
            f"policy that ends at {first} line 2, column 36?)",
            '  @id("summariser-reads")',
            "  ^",
        ]
        token = run("policy", validate, str(second))
        assert token.stderr.splitlines() == [
            f"error: {second}: line 4, column 22: unexpected token `}}`",
            '  \tcontext.x == "y" && };',
            "  \t                    ^",  # under the token, the tab kept so that it lines up
        ]
    assert run("policy", "list", "--json").stdout.strip() == "[]"  # nothing was applied


def test_a_schema_fragment_adds_types(tmp_path: Path, run: Run, as_json: Callable[..., Any]) -> None:
    policy = tmp_path / "ticket.cedar"
    policy.write_text('@id("t")\npermit(principal, action == Action::"read", resource is Ticket);\n')
    assert "unrecognized entity type `Ticket`" in run("policy", "apply", str(policy)).stderr
    fragment = {"": {"entityTypes": {"Ticket": {}}, "actions": {"read": {"appliesTo": _applies(["Ticket"])}}}}
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(fragment))
    applied = as_json("policy", "apply", str(policy), "--schema", str(schema))
    assert applied["schema"] == fragment
    full = json.loads(run("policy", "schema").stdout)
    assert "Ticket" in full[""]["entityTypes"] and "Agent" in full[""]["entityTypes"]
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    assert "not valid JSON" in run("policy", "apply", str(policy), "--schema", str(not_json)).stderr


def test_mode_needs_a_reason_and_is_recorded(files: Path, run: Run, as_json: Callable[..., Any]) -> None:
    as_json("policy", "apply", str(files / "forbid.cedar"))
    assert run("policy", "mode", "log-only").exit_code == 2  # --reason is required
    assert run("policy", "mode", "sometimes", "--reason", "x").exit_code == 2
    status = as_json("policy", "mode", "log-only", "--reason", "trial week")
    assert status["mode"] == "log_only"
    assert "log_only" in run("policy", "status").stdout
    assert as_json("policy", "mode", "enforce", "--reason", "trial over")["mode"] == "enforce"
    events = as_json("events", "--action", "policy.mode")
    assert [(e["target_id"], e["reason"]) for e in events] == [("enforce", "trial over"), ("log_only", "trial week")]
    assert events[1]["before"]["mode"] == "enforce" and events[1]["after"]["mode"] == "log_only"


def test_entities_apply_and_show(
    tmp_path: Path, run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]
) -> None:
    assert as_json("entities", "show") == {"version": None, "entities": []}
    entities = [
        {"uid": {"type": "Team", "id": "support"}, "attrs": {"name": "Support"}, "parents": []},
        {"uid": {"type": "Ticket", "id": "T-1"}, "attrs": {}, "parents": [{"type": "Team", "id": "support"}]},
    ]
    file = tmp_path / "entities.json"
    file.write_text(json.dumps(entities))
    assert as_json("entities", "apply", str(file), "--comment", "teams") == {"version": 1, "count": 2}
    assert as_json("entities", "show") == {"version": 1, "entities": entities}
    table = ok("entities", "show").stdout
    assert 'Ticket::"T-1"' in table and 'Team::"support"' in table
    assert as_json("policy", "status")["entities_count"] == 2

    registry = tmp_path / "agents.json"
    registry.write_text(json.dumps([{"uid": {"type": "Agent", "id": "x"}, "attrs": {}, "parents": []}]))
    refused = run("entities", "apply", str(registry))
    assert refused.exit_code == 1
    assert "entities[0]: Agent entities come from the registry" in refused.stderr
    not_a_list = tmp_path / "object.json"
    not_a_list.write_text("{}")
    assert "JSON array" in run("entities", "apply", str(not_a_list)).stderr
    assert as_json("entities", "show")["version"] == 1
    assert [e["action"] for e in as_json("events", "--action", "entities.apply")] == ["entities.apply"]


@pytest.mark.usefixtures("agent")
def test_policy_test_against_the_active_set(files: Path, run: Run, as_json: Callable[..., Any]) -> None:
    as_json("policy", "apply", str(files / "forbid.cedar"))
    passed = run("policy", "test", str(files / "cases.yaml"))
    assert passed.exit_code == 0, passed.output
    assert "3 passed, 0 failed" in passed.stdout
    assert "role:ticket-reader#0" in passed.stdout

    wrong = files / "wrong.yaml"
    wrong.write_text(CASES.replace("expect: allow", "expect: deny").replace("[no-close-in-prod]", "[something-else]"))
    failed = run("policy", "test", str(wrong))
    assert failed.exit_code == 1
    assert "1 passed, 2 failed" in failed.stdout
    assert "FAIL" in failed.stdout and "expected deny, got allow" in failed.stdout
    report = json.loads(run("policy", "test", str(wrong), "--json").stdout)
    assert (report["passed"], report["failed"]) == (1, 2)
    second = report["results"][1]
    assert second["mismatches"] == ["expected policies [something-else], got [no-close-in-prod]"]
    assert second["got"] == {"decision": "deny", "policies": ["no-close-in-prod"], "detail": "forbidden"}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("cases: [\n", "not valid YAML at line 2"),
        ("- a list\n", "a mapping with a `cases` list"),
        ("cases: []\n", "cases must have at least one item"),
        (
            "cases:\n  - {name: ok, principal: {type: agent, id: a}, action: read, resource: {type: tool, id: t}, "
            "expect: allow}\n  - {name: second, principal: {type: agent, id: a}, action: read, expect: allow}\n",
            'cases[1].resource is required (case "second")',
        ),
        (
            "cases:\n  - {name: x, principal: {type: agent, id: a}, action: read, resource: {type: tool, id: t}, "
            "expect: perhaps}\n",
            'cases[0].expect must be one of: allow, deny (case "x")',
        ),
    ],
)
def test_policy_test_refuses_a_bad_cases_file(tmp_path: Path, run: Run, text: str, shown: str) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(text)
    result = run("policy", "test", str(cases))
    assert result.exit_code == 2
    assert shown in result.stderr
    assert run("policy", "test", str(tmp_path / "missing.yaml")).exit_code == 2


@pytest.mark.usefixtures("agent")
def test_policy_test_with_files_does_not_touch_the_store(
    files: Path, tmp_path: Path, run: Run, as_json: Callable[..., Any]
) -> None:
    as_json("policy", "apply", str(files / "read.cedar"))
    before = as_json("policy", "status")
    result = run("policy", "test", str(files / "cases.yaml"), "--policies", str(files / "forbid.cedar"))
    assert result.exit_code == 0, result.output  # the registry's roles apply; the forbid comes from the file
    assert "3 passed, 0 failed" in result.stdout
    assert as_json("policy", "status") == before
    assert len(as_json("policy", "list")) == 1

    # against the active set instead, the forbid is missing
    assert run("policy", "test", str(files / "cases.yaml")).exit_code == 1
    broken = tmp_path / "broken.cedar"
    broken.write_text("permit(principal, action resource);")
    invalid = run("policy", "test", str(files / "cases.yaml"), "--policies", str(broken))
    assert invalid.exit_code == 1 and "line 1, column 26" in invalid.stderr
    alone = run("policy", "test", str(files / "cases.yaml"), "--entities", str(tmp_path / "e.json"))
    assert alone.exit_code == 2 and "--policies" in alone.output


def test_policy_test_with_files_needs_no_home(files: Path, tmp_path: Path, run: Run) -> None:
    """In a user's CI: no REMIT_HOME at all, an empty registry, extra entities and a schema from files."""
    policy = tmp_path / "team.cedar"
    policy.write_text(
        '@id("team-reads")\npermit(principal, action == Action::"read", resource is Ticket)\n'
        'when { resource in Team::"support" && context has environment && context.environment == "ci" };\n'
    )
    fragment = {
        "": {
            "entityTypes": {"Team": {}, "Ticket": {"memberOfTypes": ["Team"]}},
            "actions": {"read": {"appliesTo": _applies(["Ticket"])}},
        }
    }
    (tmp_path / "schema.json").write_text(json.dumps(fragment))
    entities = [
        {"uid": {"type": "Team", "id": "support"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Ticket", "id": "T-1"}, "attrs": {}, "parents": [{"type": "Team", "id": "support"}]},
        {"uid": {"type": "Ticket", "id": "T-2"}, "attrs": {}, "parents": []},
    ]
    (tmp_path / "entities.json").write_text(json.dumps(entities))
    (tmp_path / "cases.yaml").write_text(
        "cases:\n"
        "  - name: a support user reads a support ticket\n"
        "    principal: {type: user, id: carol}\n"
        "    action: read\n"
        "    resource: {type: Ticket, id: T-1}\n"
        "    context: {environment: ci}\n"
        "    expect: allow\n"
        "    policies: [team-reads]\n"
        "  - name: not another team's ticket\n"
        "    principal: {type: user, id: carol}\n"
        "    action: read\n"
        "    resource: {type: Ticket, id: T-2}\n"
        "    context: {environment: ci}\n"
        "    expect: deny\n"
        "    policies: []\n"
    )
    args = ["--policies", str(policy), "--schema", str(tmp_path / "schema.json")]
    nowhere = {"REMIT_HOME": str(tmp_path / "no-home")}
    result = run(
        "policy",
        "test",
        str(tmp_path / "cases.yaml"),
        *args,
        "--entities",
        str(tmp_path / "entities.json"),
        env=nowhere,
    )
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.stdout
    assert not (tmp_path / "no-home").exists()
    without_entities = run("policy", "test", str(tmp_path / "cases.yaml"), *args, env=nowhere)
    assert without_entities.exit_code == 1 and "1 passed, 1 failed" in without_entities.stdout


def _applies(extra_resource_types: list[str]) -> dict[str, Any]:
    return {
        "principalTypes": ["Agent", "User"],
        "resourceTypes": ["App", "Endpoint", "McpServer", "Tool", "Dataset", *extra_resource_types],
    }
