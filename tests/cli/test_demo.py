"""``remit demo --no-serve``: the seeded estate, and that it is seeded only once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from remit.demo.estate import SUMMARISER, TICKET_READER, TICKET_READING_TOOLS
from tests.cli.conftest import _free_port, _wait_until_healthy


def test_demo_seeds_a_realistic_estate(ok: Callable[..., Result], as_json: Callable[..., Any], home: Path) -> None:
    result = ok("demo", "--no-serve", "--port", "8499")
    assert "seeded 12 agents" in result.stdout
    assert "http://127.0.0.1:8499/docs" in result.stdout
    assert f"remit agent show {SUMMARISER}" in result.stdout
    token_file = home / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() not in result.output

    agents = as_json("agent", "list", "--all")
    assert len(agents) == 12
    assert all(a["owner"] for a in agents)
    by_status = {a["name"]: a for a in agents if a["status"] != "active"}
    assert {a["status"] for a in by_status.values()} == {"suspended", "quarantined"}
    assert all(a["status_reason"] not in ("", "registered") for a in by_status.values())

    users = as_json("user", "list", "--all")
    assert len(users) >= 6
    assert [u["status"] for u in users].count("disabled") == 1

    resources = {r["id"]: r for r in as_json("resource", "list", "--all")}
    assert {r["kind"] for r in resources.values()} >= {"app", "endpoint", "mcp_server", "tool", "dataset"}
    helpdesk_tools = {r["id"] for r in resources.values() if r["parent"] == "helpdesk"}
    assert helpdesk_tools >= {"helpdesk.list_tickets", "helpdesk.get_ticket", "helpdesk.update_ticket"}
    assert "warehouse" in resources and resources["warehouse"]["kind"] == "dataset"


def test_the_ticket_summariser_may_only_read_the_ticket_queue(
    as_json: Callable[..., Any], ok: Callable[..., Result]
) -> None:
    ok("demo", "--no-serve")
    summariser = as_json("agent", "show", SUMMARISER)
    assert summariser["roles"] == [TICKET_READER]
    assert summariser["status"] == "active"
    role = as_json("role", "show", TICKET_READER)
    assert role["agents"] == [SUMMARISER]
    assert {p["resource"] for p in role["permissions"]} == set(TICKET_READING_TOOLS)
    assert all(set(p["actions"]) <= {"read", "call_tool"} for p in role["permissions"])
    resources = {r["id"]: r for r in as_json("resource", "list", "--all")}
    for tool in TICKET_READING_TOOLS:
        assert resources[tool]["kind"] == "tool" and resources[tool]["parent"] == "helpdesk"


def test_demo_does_not_seed_twice(ok: Callable[..., Result], as_json: Callable[..., Any]) -> None:
    ok("demo", "--no-serve")
    events = len(as_json("events", "--all"))
    again = ok("demo", "--no-serve")
    assert "not seeding again" in again.stdout
    assert len(as_json("agent", "list", "--all")) == 12
    assert len(as_json("events", "--all")) == events


def test_demo_serves_on_its_port_and_issues_tokens_in_its_name(home: Path, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    env = {**os.environ, "REMIT_HOME": str(home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "remit", "demo", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        _wait_until_healthy(proc, url, log)
        meta = httpx.get(f"{url}/.well-known/oauth-authorization-server", timeout=5).json()
        assert (meta["issuer"], meta["token_endpoint"]) == (url, f"{url}/oauth/token")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
