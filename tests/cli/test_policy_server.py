"""``remit policy`` and ``remit entities`` against a running ``remit serve``: the same estate as the local home,
the same output either way, and a server that evaluates with a change soon after it is made, either way."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.conftest import Run
from tests.cli.test_policy import AGENT, CASES, FORBID_CLOSE, PERMIT_READ

#: a running server picks up a change within ``policy_refresh_seconds`` (0.25 s); allow for a slow machine
PICKUP_SECONDS = 5.0


@pytest.fixture
def remote(server: str, initialised: Path) -> dict[str, str]:
    return {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}


@pytest.fixture
def agent(estate: None, ok: Callable[..., Result], remote: dict[str, str]) -> None:
    ok("agent", "create", AGENT, "--owner", "alice", env=remote)
    ok("role", "create", "ticket-reader", "--permission", "call_tool:helpdesk.get_ticket", env=remote)
    ok("role", "assign", "ticket-reader", "--agent", AGENT, env=remote)


@pytest.mark.usefixtures("agent")
def test_policy_administration_over_http(
    remote: dict[str, str], tmp_path: Path, run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]
) -> None:
    forbid, read, cases = tmp_path / "forbid.cedar", tmp_path / "read.cedar", tmp_path / "cases.yaml"
    forbid.write_text(FORBID_CLOSE)
    read.write_text(PERMIT_READ)
    cases.write_text(CASES)

    applied = as_json("policy", "apply", str(forbid), "--comment", "via HTTP", env=remote)
    assert (applied["version"], applied["active"], applied["comment"]) == (1, True, "via HTTP")
    assert applied["created_by"].startswith("token:")
    assert as_json("policy", "show") == applied  # the local store has what the server wrote
    assert ok("policy", "show", env=remote).stdout == FORBID_CLOSE

    # errors read the same either way: the position of a syntax error, every schema problem
    broken = tmp_path / "broken.cedar"
    broken.write_text("permit(principal, action resource);")
    unknown = tmp_path / "unknown.cedar"
    unknown.write_text("permit(principal is Agent, action, resource) when { principal.shoe_size == 1 };\n" * 2)
    for env in (None, remote):
        syntax = run("policy", "apply", str(broken), env=env)
        assert syntax.exit_code == 1 and f"{broken}: line 1, column 26: unexpected token" in syntax.stderr
        invalid = run("policy", "apply", str(unknown), env=env)
        assert invalid.exit_code == 1
        assert invalid.stderr.count("attribute `shoe_size` on entity type `Agent` not found") == 3  # head + 2

    # the active set, tested through the server's AuthZEN API
    _eventually(lambda: run("policy", "test", str(cases), env=remote).exit_code == 0)
    passed = run("policy", "test", str(cases), env=remote)
    assert "3 passed, 0 failed" in passed.stdout
    assert "policy ids not checked" in passed.stdout  # the allow: AuthZEN names policies only on deny

    # a change made locally is evaluated by the running server soon after
    ok("policy", "apply", str(read), "--comment", "drop the forbid")
    _eventually(lambda: run("policy", "test", str(cases), env=remote).exit_code == 1)
    ok("policy", "rollback", "--reason", "keep the forbid", env=remote)
    _eventually(lambda: run("policy", "test", str(cases), env=remote).exit_code == 0)

    # log-only: the server tells callers allow, the test still sees the policies' deny
    ok("policy", "mode", "log-only", "--reason", "trial", env=remote)
    told_allow = {
        "decision": "deny",
        "policies": ["no-close-in-prod"],
        "detail": "forbidden (log-only: the caller was told allow)",
    }

    def forbid_logged_only() -> bool:
        result = run("policy", "test", str(cases), "--json", env=remote)
        assert result.exit_code == 0, result.output
        return bool(json.loads(result.stdout)["results"][1]["got"] == told_allow)

    _eventually(forbid_logged_only)
    status = as_json("policy", "status", env=remote)
    assert status == as_json("policy", "status") and status["mode"] == "log_only"

    # every read is the same either way
    for args in (("policy", "list"), ("entities", "show")):
        assert as_json(*args, env=remote) == as_json(*args)
    assert ok("policy", "diff", "1", "2", env=remote).stdout == ok("policy", "diff", "1", "2").stdout
    assert ok("policy", "schema", env=remote).stdout == ok("policy", "schema").stdout

    entities = tmp_path / "entities.json"
    entities.write_text('[{"uid": {"type": "Team", "id": "support"}, "attrs": {}, "parents": []}]')
    assert as_json("entities", "apply", str(entities), env=remote) == {"version": 1, "count": 1}
    assert as_json("entities", "show")["entities"][0]["uid"] == {"type": "Team", "id": "support"}
    agents = tmp_path / "agents.json"
    agents.write_text('[{"uid": {"type": "Agent", "id": "x"}, "attrs": {}, "parents": []}]')
    assert "come from the registry" in run("entities", "apply", str(agents), env=remote).stderr

    trail = [(e["action"], e["actor"].split(":")[0]) for e in as_json("events", "--target-type", "policy")]
    assert trail[:4] == [
        ("entities.apply", "token"),
        ("policy.mode", "token"),
        ("policy.activate", "token"),
        ("policy.apply", "local"),
    ]


def _eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PICKUP_SECONDS
    while not check():
        assert time.monotonic() < deadline, "the server did not pick up the change"
        time.sleep(0.1)
