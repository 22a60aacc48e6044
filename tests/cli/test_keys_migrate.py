"""``remit agent apikey`` and ``remit keys migrate``: legacy API keys minted, listed and revoked, and an owner's agents
moved to a key pair, on the local estate and against a running server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from remit.tokens import jose
from tests.cli.conftest import Run

Ok = Callable[..., Result]
AsJson = Callable[..., Any]


def agents_with_keys(ok: Ok, as_json: AsJson, env: dict[str, str] | None = None) -> dict[str, str]:
    """alice's helpdesk (two legacy keys, one revoked) and triage (one), bob's billing (one): agent -> a key value."""
    ok("agent", "create", "helpdesk", "--owner", "alice", env=env)
    ok("agent", "create", "triage", "--owner", "alice", env=env)
    ok("agent", "create", "quiet", "--owner", "alice", env=env)
    ok("agent", "create", "billing", "--owner", "bob", env=env)
    values: dict[str, str] = {}
    for name in ("helpdesk", "triage", "billing"):
        made = as_json("agent", "apikey", "create", name, "--expires-in", "30d", env=env)
        values[name] = made["api_key"]
    old = as_json("agent", "apikey", "create", "helpdesk", "--expires-in", "1d", env=env)
    ok("agent", "apikey", "revoke", "helpdesk", old["id"], env=env)
    return values


def test_apikey_commands_and_migrate_locally(estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    values = agents_with_keys(ok, as_json)
    shown = ok("agent", "apikey", "create", "billing", "--expires-in", "2w")
    assert "shown once" in shown.stdout and "remit_apikey_" in shown.stdout and "remit keys migrate" in shown.stderr
    no_expiry = run("agent", "apikey", "create", "billing")
    assert no_expiry.exit_code == 2 and "--expires-in" in no_expiry.output
    too_long = run("agent", "apikey", "create", "billing", "--expires-in", "91d")
    assert too_long.exit_code == 1 and "tokens.legacy_key_max_days" in too_long.stderr
    listed = as_json("agent", "apikey", "list", "helpdesk")
    assert [k["status"] for k in listed] == ["active", "revoked"]
    assert values["helpdesk"] not in json.dumps(listed)
    report = as_json("agent", "apikey", "report")
    assert sorted(k["agent"] for k in report) == ["billing", "billing", "helpdesk", "helpdesk", "triage"]

    out = tmp_path / "keys"
    plan = ok("keys", "migrate", "--owner", "alice", "--out", str(out), "--dry-run")
    assert "helpdesk" in plan.stdout and "triage" in plan.stdout and "quiet" not in plan.stdout
    assert "billing" not in plan.stdout and "dry run" in plan.stderr and not out.exists()

    # asked per agent: yes to helpdesk, no to triage
    asked = ok("keys", "migrate", "--owner", "alice", "--out", str(out), input="y\nn\n")
    assert "agent helpdesk: migrated" in asked.stdout and "triage" not in asked.stdout.split("?")[-1]
    assert "private_key_jwt" in asked.stdout
    pem = out / "helpdesk.pem"
    assert pem.stat().st_mode & 0o777 == 0o600 and not (out / "triage.pem").exists()
    key = jose.SigningKey.from_pem(pem.read_bytes())
    [registered] = as_json("agent", "key", "list", "helpdesk")
    assert registered["kid"] == key.public_key.kid and registered["kid"] in asked.stdout
    assert [k["status"] for k in as_json("agent", "apikey", "list", "helpdesk")] == ["revoked", "revoked"]
    assert [k["status"] for k in as_json("agent", "apikey", "list", "triage")] == ["active"]

    done = as_json("keys", "migrate", "--owner", "alice", "--out", str(out), "--yes")
    assert [(d["agent"], d["error"]) for d in done] == [("triage", None)]
    assert (out / "triage.pem").exists() and len(as_json("agent", "key", "list", "triage")) == 1
    nothing = ok("keys", "migrate", "--owner", "alice", "--out", str(out), "--yes")
    assert "nothing to migrate" in nothing.stderr
    assert [k["status"] for k in as_json("agent", "apikey", "list", "billing")] == ["active", "active"]
    unknown = run("keys", "migrate", "--owner", "nobody", "--yes")
    assert unknown.exit_code == 1 and "nobody" in unknown.stderr


def test_migrate_against_a_server(
    server: str, estate: None, initialised: Path, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path
) -> None:
    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    values = agents_with_keys(ok, as_json, remote)
    form = {"grant_type": "client_credentials", "resource": "https://mcp.example.org/x", "scope": "read:helpdesk"}
    used = httpx.post(f"{server}/oauth/token", data=form, auth=("helpdesk", values["helpdesk"]))
    assert used.json()["error"] == "invalid_scope"  # authenticated; no policy grants the scope
    report = as_json("agent", "apikey", "report", env=remote)
    assert {k["agent"]: k["use_count"] for k in report if k["status"] == "active"}["helpdesk"] == 1

    out = tmp_path / "remote-keys"
    (out / "sub").mkdir(parents=True)
    (out / "triage.pem").write_text("in the way")
    blocked = run("keys", "migrate", "--owner", "alice", "--out", str(out), "--yes", env=remote)
    assert blocked.exit_code == 1 and blocked.stderr.startswith("error: --out: ")
    assert "triage.pem exists" in blocked.stderr
    assert as_json("agent", "key", "list", "helpdesk", env=remote) == []  # refused before anything was changed
    (out / "triage.pem").unlink()
    done = as_json("keys", "migrate", "--owner", "alice", "--out", str(out), "--yes", env=remote)
    assert sorted(d["agent"] for d in done) == ["helpdesk", "triage"]
    assert all(d["error"] is None and d["kid"] for d in done)
    refused = httpx.post(f"{server}/oauth/token", data=form, auth=("helpdesk", values["helpdesk"]))
    assert refused.status_code == 401 and refused.json()["error_description"] == "the legacy API key is revoked"
    assert refused.headers["www-authenticate"].startswith("Basic ")
    for d in done:
        assert Path(d["private_key_file"]).stat().st_mode & 0o777 == 0o600
        [key] = as_json("agent", "key", "list", d["agent"], env=remote)
        assert key["kid"] == d["kid"]
    assert as_json("agent", "apikey", "list", "billing", env=remote)[0]["status"] == "active"
