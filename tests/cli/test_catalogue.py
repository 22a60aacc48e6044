"""``remit user``, ``role``, ``resource``, ``admin-token`` and ``events`` in local mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.conftest import Run

pytestmark = pytest.mark.usefixtures("estate")


def test_users(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    carol = as_json(
        "user", "create", "carol", "--email", "Carol@Example.com", "--name", "Carol D", "--attr", "dept=fin"
    )
    assert carol["email"] == "carol@example.com"
    assert carol["attributes"] == {"dept": "fin"}
    assert as_json("user", "show", "carol") == carol
    assert [u["id"] for u in as_json("user", "list")] == ["alice", "bob", "carol"]
    updated = as_json("user", "update", "carol", "--name", "Carol Diaz", "--attr", "level=3")
    assert updated["display_name"] == "Carol Diaz"
    assert updated["attributes"] == {"dept": "fin", "level": 3}
    assert "disabled" in ok("user", "disable", "carol").stdout
    assert [u["id"] for u in as_json("user", "list", "--status", "disabled")] == ["carol"]
    refused = run("agent", "create", "bot", "--owner", "carol")
    assert refused.exit_code == 1
    assert "owner" in refused.stderr and "disabled" in refused.stderr
    assert as_json("user", "enable", "carol")["status"] == "active"
    duplicate = run("user", "create", "dave", "--email", "alice@example.com")
    assert duplicate.exit_code == 1
    assert "email" in duplicate.stderr
    assert "Alice" in ok("user", "list").stdout


def test_resources(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    crm = as_json(
        "resource", "create", "crm", "--kind", "app", "--name", "CRM", "--sensitivity", "confidential",
        "--data-class", "customer_pii", "--attr", "base_url=https://crm.example.com",
    )  # fmt: skip
    assert crm["sensitivity"] == "confidential"
    assert crm["data_classes"] == ["customer_pii"]
    assert as_json("resource", "show", "crm") == crm
    tools = as_json("resource", "list", "--parent", "helpdesk")
    assert [r["id"] for r in tools] == ["helpdesk.close_ticket", "helpdesk.get_ticket"]
    assert [r["id"] for r in as_json("resource", "list", "--kind", "app")] == ["crm"]
    assert as_json("resource", "update", "crm", "--sensitivity", "restricted")["sensitivity"] == "restricted"
    bad_parent = run("resource", "create", "crm.tool", "--kind", "tool", "--parent", "nowhere")
    assert bad_parent.exit_code == 1
    assert "parent" in bad_parent.stderr
    busy = run("resource", "delete", "helpdesk")
    assert busy.exit_code == 1
    assert "child" in busy.stderr
    assert "deleted" in ok("resource", "delete", "crm").stdout
    assert run("resource", "show", "crm").exit_code == 1


def test_roles_with_permissions_and_members(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    ok("agent", "create", "ticket-bot", "--owner", "alice")
    role = as_json(
        "role", "create", "ticket-reader", "--description", "read tickets",
        "--permission", "read,call_tool:helpdesk.get_ticket", "--permission", "read:helpdesk",
    )  # fmt: skip
    assert role["permissions"] == [
        {"actions": ["call_tool", "read"], "resource": "helpdesk.get_ticket"},
        {"actions": ["read"], "resource": "helpdesk"},
    ]
    assigned = as_json("role", "assign", "ticket-reader", "--agent", "ticket-bot", "--user", "bob")
    assert assigned["agents"] == ["ticket-bot"]
    assert assigned["users"] == ["bob"]
    assert as_json("agent", "show", "ticket-bot")["roles"] == ["ticket-reader"]
    assert [r["name"] for r in as_json("role", "list", "--agent", "ticket-bot")] == ["ticket-reader"]
    assert [a["name"] for a in as_json("agent", "list", "--role", "ticket-reader")] == ["ticket-bot"]
    shown = ok("role", "show", "ticket-reader").stdout
    assert "call_tool,read on helpdesk.get_ticket" in shown
    narrowed = as_json("role", "update", "ticket-reader", "--permission", "read:helpdesk.get_ticket")
    assert narrowed["permissions"] == [{"actions": ["read"], "resource": "helpdesk.get_ticket"}]
    unassigned = as_json("role", "unassign", "ticket-reader", "--agent", "ticket-bot")
    assert unassigned["agents"] == []
    in_use = run("resource", "delete", "helpdesk.get_ticket")
    assert in_use.exit_code == 1 and "ticket-reader" in in_use.stderr
    ok("role", "delete", "ticket-reader")
    assert run("role", "show", "ticket-reader").exit_code == 1


@pytest.mark.parametrize(
    ("spec", "code", "word"),
    [
        ("read", 2, "ACTION"),
        (":helpdesk", 2, "ACTION"),
        ("Read:helpdesk", 2, "actions"),
        ("read:nowhere", 1, "nowhere"),
    ],
)
def test_bad_permissions(run: Run, spec: str, code: int, word: str) -> None:
    result = run("role", "create", "r", "--permission", spec)
    assert result.exit_code == code, result.output
    assert word in result.output


def test_assign_needs_a_member(run: Run, ok: Callable[..., Result]) -> None:
    ok("role", "create", "r")
    assert run("role", "assign", "r").exit_code == 2
    unknown = run("role", "assign", "r", "--agent", "ghost")
    assert unknown.exit_code == 1
    assert "no such agent" in unknown.stderr


def test_admin_tokens_print_the_secret_only_when_minted(
    run: Run, ok: Callable[..., Result], as_json: Callable[..., Any], home: Path
) -> None:
    minted = ok("admin-token", "create", "--name", "ci", "--role", "auditor", "--expires-in", "30d")
    secrets = [w for w in minted.stdout.split() if w.startswith("remit_adm_")]
    assert len(secrets) == 1
    owner = as_json("admin-token", "create", "--name", "alice-cli", "--role", "owner", "--user", "alice")
    assert owner["token"].startswith("remit_adm_")
    assert owner["user_id"] == "alice"
    listed = ok("admin-token", "list", "--json").stdout
    events = ok("events", "--all", "--json").stdout
    for secret in (secrets[0], owner["token"]):
        assert secret not in listed
        assert secret not in events
    tokens = as_json("admin-token", "list")
    auditor = next(t for t in tokens if t["name"] == "ci")
    assert auditor["expires_at"] is not None
    assert "token" not in auditor
    revoked = as_json("admin-token", "revoke", auditor["id"])
    assert revoked["revoked_at"] is not None
    assert run("admin-token", "create", "--name", "x", "--role", "owner").exit_code == 1  # owner needs --user
    assert run("admin-token", "create", "--name", "x", "--role", "admin", "--expires-in", "soon").exit_code == 2
    assert run("admin-token", "revoke", "tok_nope").exit_code == 1


def test_events_filters_and_table(ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    ok("agent", "create", "bot", "--owner", "alice")
    ok("agent", "suspend", "bot", "--reason", "maintenance window")
    latest = as_json("events", "--limit", "1")
    assert latest[0]["action"] == "agent.suspend"
    assert latest[0]["schema"] == "remit.change/v1"
    assert [e["target_id"] for e in as_json("events", "--action", "user.create", "--all")] == ["bob", "alice"]
    table = ok("events", "--target-id", "bot").stdout
    assert "maintenance window" in table
