"""``remit agent``: register, list, show, update and the lifecycle, in local mode."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.conftest import Run

pytestmark = pytest.mark.usefixtures("estate")


def test_create_show_and_list(ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    created = as_json(
        "agent", "create", "ticket-bot", "--owner", "alice", "--purpose", "summarise tickets", "--team", "support",
        "--risk-tier", "low", "--clearance", "2", "--attr", "framework=langchain", "--attr", "max_tools=3",
        "--attr", "labels=[a,b]", "--attr", "beta=true",
    )  # fmt: skip
    assert created["id"] == "spiffe://remit.local/agent/ticket-bot"
    assert created["owner"] == "alice"
    assert created["status"] == "active"
    assert created["attributes"] == {"framework": "langchain", "max_tools": 3, "labels": ["a", "b"], "beta": True}
    assert as_json("agent", "show", "ticket-bot") == created
    human = ok("agent", "show", "ticket-bot").stdout
    assert "summarise tickets" in human and "alice" in human
    as_json("agent", "create", "other-bot", "--owner", "bob", "--environment", "staging")
    assert [a["name"] for a in as_json("agent", "list")] == ["other-bot", "ticket-bot"]
    assert [a["name"] for a in as_json("agent", "list", "--owner", "bob")] == ["other-bot"]
    assert [a["name"] for a in as_json("agent", "list", "--environment", "staging")] == ["other-bot"]
    assert [a["name"] for a in as_json("agent", "list", "--risk-tier", "low")] == ["ticket-bot"]
    table = ok("agent", "list").stdout
    assert "ticket-bot" in table and "other-bot" in table


def test_paging_with_limit_cursor_and_all(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    for i in range(5):
        ok("agent", "create", f"bot-{i}", "--owner", "alice")
    first = run("agent", "list", "--limit", "2", "--json")
    assert [a["name"] for a in json.loads(first.stdout)] == ["bot-0", "bot-1"]
    assert "--cursor" in first.stderr
    cursor = first.stderr.split("--cursor")[1].split()[0]
    assert [a["name"] for a in as_json("agent", "list", "--limit", "2", "--cursor", cursor)] == ["bot-2", "bot-3"]
    assert len(as_json("agent", "list", "--limit", "2", "--all")) == 5
    too_many = run("agent", "list", "--limit", "100000")
    assert too_many.exit_code == 1
    assert "limit" in too_many.stderr


def test_update_merges_attributes(as_json: Callable[..., Any]) -> None:
    as_json("agent", "create", "bot", "--owner", "alice", "--attr", "a=1", "--attr", "b=x")
    changed = as_json(
        "agent", "update", "bot", "--owner", "bob", "--team", "data", "--attr", "c=y", "--unset-attr", "a"
    )
    assert changed["owner"] == "bob"
    assert changed["team"] == "data"
    assert changed["attributes"] == {"b": "x", "c": "y"}


def test_update_needs_something_to_change(run: Run, ok: Callable[..., Result]) -> None:
    ok("agent", "create", "bot", "--owner", "alice")
    assert run("agent", "update", "bot").exit_code == 2


def test_lifecycle(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    ok("agent", "create", "bot", "--owner", "alice")
    suspended = ok("agent", "suspend", "bot", "--reason", "leaking logs")
    assert "suspended" in suspended.stdout and "leaking logs" in suspended.stdout
    assert as_json("agent", "show", "bot")["status_reason"] == "leaking logs"
    assert [a["name"] for a in as_json("agent", "list", "--status", "suspended")] == ["bot"]
    assert as_json("agent", "resume", "bot", "--reason", "fixed")["status"] == "active"
    assert as_json("agent", "quarantine", "bot", "--reason", "odd traffic")["status"] == "quarantined"
    assert as_json("agent", "retire", "bot", "--reason", "replaced")["status"] == "retired"
    again = run("agent", "resume", "bot", "--reason", "please")
    assert again.exit_code == 1
    assert "retired" in again.stderr
    assert run("agent", "suspend", "bot").exit_code == 2  # --reason is required
    events = as_json("events", "--target-type", "agent", "--target-id", "bot")
    assert [e["action"] for e in events] == [
        "agent.retire", "agent.quarantine", "agent.resume", "agent.suspend", "agent.create",
    ]  # fmt: skip
    assert events[0]["reason"] == "replaced"
    assert events[0]["actor"].startswith("local:")


def test_unknown_owner_is_refused_with_the_field_named(run: Run) -> None:
    result = run("agent", "create", "bot", "--owner", "nobody")
    assert result.exit_code == 1
    assert "owner" in result.stderr
    assert "nobody" in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["agent", "show", "ghost"], ["no such agent"]),
        (["agent", "create", "Bad Name", "--owner", "alice"], ["NAME"]),
        (["agent", "create", "bot", "--owner", "alice", "--clearance", "11"], ["--clearance"]),
        (["agent", "suspend", "ghost", "--reason", "x"], ["no such agent"]),
    ],
)
def test_refusals_exit_1_without_traceback(run: Run, args: list[str], words: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr


def test_duplicate_is_a_conflict(run: Run, ok: Callable[..., Result]) -> None:
    ok("agent", "create", "bot", "--owner", "alice")
    result = run("agent", "create", "bot", "--owner", "alice")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["agent", "create", "bot", "--owner", "alice", "--attr", "novalue"],
        ["agent", "create", "bot", "--owner", "alice", "--risk-tier", "extreme"],
        ["agent", "list", "--status", "sleeping"],
    ],
)
def test_bad_option_values_are_usage_errors(run: Run, args: list[str]) -> None:
    assert run(*args).exit_code == 2


def test_keys(tmp_path: Path, run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    from tests.tokens.test_agent_keys import public_jwk

    as_json("agent", "create", "ticket-bot", "--owner", "alice")
    jwk_file = tmp_path / "key.json"
    jwk_file.write_text(json.dumps(public_jwk()))
    added = as_json("agent", "key", "add", "ticket-bot", "--jwk", str(jwk_file))
    assert (added["agent"], added["alg"], added["status"]) == ("ticket-bot", "EdDSA", "active")
    assert [k["kid"] for k in as_json("agent", "key", "list", "ticket-bot")] == [added["kid"]]
    assert added["kid"] in ok("agent", "key", "list", "ticket-bot").stdout
    assert (
        f"key {added['kid']} of agent ticket-bot is revoked"
        in ok("agent", "key", "revoke", "--", "ticket-bot", added["kid"]).stdout
    )
    assert [k["status"] for k in as_json("agent", "key", "list", "ticket-bot")] == ["revoked"]

    jwk_file.write_text(json.dumps({**public_jwk(), "d": "AAAA"}))
    refused = run("agent", "key", "add", "ticket-bot", "--jwk", str(jwk_file))
    assert refused.exit_code == 1
    assert "a private or symmetric key was given where a public key is expected" in refused.stderr
    jwk_file.write_text("not json")
    bad = run("agent", "key", "add", "ticket-bot", "--jwk", str(jwk_file))
    assert bad.exit_code == 2 and "cannot read a JSON JWK" in bad.output


def test_client_metadata(run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    as_json("agent", "create", "ticket-bot", "--owner", "alice")
    shown = as_json("agent", "client", "show", "ticket-bot")
    assert shown == {
        "agent": "ticket-bot",
        "dpop_bound_access_tokens": False,
        "jwks_uri": None,
        "updated_at": None,
        "updated_by": None,
    }
    assert "agent ticket-bot must use DPoP" in ok("agent", "client", "set", "ticket-bot", "--dpop").stdout
    shown = as_json("agent", "client", "show", "ticket-bot")
    assert shown["dpop_bound_access_tokens"] is True and shown["updated_by"].startswith("local:")
    assert "dpop bound access tokens" in ok("agent", "client", "show", "ticket-bot").stdout
    cleared = as_json("agent", "client", "set", "ticket-bot", "--no-dpop")
    assert cleared["dpop_bound_access_tokens"] is False
    assert run("agent", "client", "set", "ticket-bot").exit_code == 2  # --dpop or --no-dpop is required
    missing = run("agent", "client", "show", "ghost")
    assert missing.exit_code == 1 and "no such agent 'ghost'" in missing.stderr
