"""End to end: ``remit serve`` in a subprocess, changed through the local estate and through the CLI's remote mode."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from tests.cli.conftest import Run


def test_local_and_remote_changes_meet_in_one_estate(
    server: str, initialised: Path, run: Run, ok: Callable[..., Result], as_json: Callable[..., Any]
) -> None:
    token = initialised.read_text().strip()
    api = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    # (a) a change made on REMIT_HOME directly is seen by the running server
    ok("user", "create", "alice", "--email", "alice@example.com")
    ok("agent", "create", "local-bot", "--owner", "alice", "--team", "support")
    seen = api.get("/v1/agents/local-bot")
    assert seen.status_code == 200, seen.text
    assert seen.json()["team"] == "support"

    # (b) the CLI in remote mode changes the server's estate, which is the local database
    remote = {"REMIT_URL": server, "REMIT_TOKEN": token}
    created = as_json("agent", "create", "remote-bot", "--owner", "alice", "--purpose", "via HTTP", env=remote)
    assert created["id"].endswith("/agent/remote-bot")
    assert as_json("agent", "show", "remote-bot") == created  # local mode reads what the server wrote
    listed = as_json("agent", "list", "--all", env=remote)
    assert [a["name"] for a in listed] == ["local-bot", "remote-bot"]
    assert as_json("agent", "list") == listed  # identical output either way
    whoami = as_json("whoami", env=remote)
    assert whoami["actor"].startswith("token:") and whoami["location"] == server
    # `remit serve --port` is the server's own address, so it is also the token issuer's by default
    assert api.get("/.well-known/oauth-authorization-server").json()["issuer"] == server

    as_json("agent", "suspend", "remote-bot", "--reason", "testing", env=remote)
    events = as_json("events", "--target-id", "remote-bot")
    assert [e["action"] for e in events] == ["agent.suspend", "agent.create"]
    assert events[0]["actor"].startswith("token:")

    # every command group works remotely, with the same output as locally
    as_json("user", "create", "bob", "--email", "bob@example.com", env=remote)
    as_json("resource", "create", "helpdesk", "--kind", "mcp_server", env=remote)
    as_json("resource", "create", "helpdesk.get_ticket", "--kind", "tool", "--parent", "helpdesk", env=remote)
    as_json("role", "create", "reader", "--permission", "read,call_tool:helpdesk.get_ticket", env=remote)
    role = as_json("role", "assign", "reader", "--agent", "remote-bot", "--user", "bob", env=remote)
    assert (role["agents"], role["users"]) == (["remote-bot"], ["bob"])
    assert as_json("role", "show", "reader") == as_json("role", "show", "reader", env=remote)
    assert as_json("resource", "list", "--parent", "helpdesk", env=remote) == as_json(
        "resource", "list", "--parent", "helpdesk"
    )
    assert as_json("user", "update", "bob", "--name", "Bob", env=remote)["display_name"] == "Bob"
    assert as_json("user", "disable", "bob", env=remote)["status"] == "disabled"
    minted = as_json("admin-token", "create", "--name", "ci", "--role", "auditor", env=remote)
    assert as_json("admin-token", "revoke", minted["id"], env=remote)["revoked_at"] is not None
    assert {t["id"] for t in as_json("admin-token", "list", env=remote)} == {
        t["id"] for t in as_json("admin-token", "list")
    }
    as_json("role", "unassign", "reader", "--agent", "remote-bot", env=remote)
    ok("role", "delete", "reader", env=remote)
    assert as_json("events", "--all", env=remote) == as_json("events", "--all")

    # errors read the same either way, and a bad token is named without being echoed
    for env in (None, remote):
        unknown = run("agent", "create", "bot", "--owner", "nobody", env=env)
        assert unknown.exit_code == 1, unknown.output
        assert "owner" in unknown.stderr and "nobody" in unknown.stderr
        missing = run("agent", "show", "ghost", env=env)
        assert missing.exit_code == 1
        assert "no such agent" in missing.stderr
    wrong_token = "remit_adm_wrong_wrong_wrong"
    wrong = run("agent", "list", env={**remote, "REMIT_TOKEN": wrong_token})
    assert wrong.exit_code == 1
    assert "REMIT_TOKEN" in wrong.stderr
    assert wrong_token not in wrong.output
    api.close()


def test_the_access_log_prints_no_credential_from_a_request_target(
    server: str, initialised: Path, tmp_path: Path
) -> None:
    """Clients do put credentials in URLs (a browser's EventSource cannot send headers, a misconfigured OAuth
    client posts its secret in the query string): the server's access log keeps the parameter, never its value."""
    token = initialised.read_text().strip()
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QiLCJqdGkiOiJ4eXoifQ." + "s" * 86
    with httpx.Client(base_url=server, timeout=10) as client:
        client.get("/v1/agents", params={"access_token": token, "limit": "5"})
        client.get("/v1/agents", params={"token": token})
        client.post(
            "/oauth/token",
            params={"client_secret": "s3cr3t-value-123", "client_assertion": jwt, "code": "SplxlOBeZQQYbYS6WxSbIA"},
            data={"grant_type": "client_credentials"},
        )
        client.get("/v1/agents", params={"api_key": "k-1234567890", "password": "hunter2", "subject_token": jwt})
        client.get("/v1/agents?access%5Ftoken=percent-encoded-name-1")  # the name percent-encoded
        client.get(f"/v1/agents/{token}")  # a token pasted into the path
        client.get("/healthz", params={"last": "1"})
    log_file = tmp_path / "server.log"
    for _ in range(100):  # the access line of the last request may not be flushed yet: a bounded wait for it
        if "/healthz?last=1" in log_file.read_text():
            break
        threading.Event().wait(0.05)
    log = log_file.read_text()
    assert "/healthz?last=1" in log
    secret_part = token.removeprefix("remit_adm_")
    for value in (secret_part, secret_part[:12], secret_part[-12:], "s3cr3t-value", "SplxlOBeZQQYbYS6WxSbIA"):
        assert value not in log
    for value in ("k-1234567890", "hunter2", "s" * 20, "percent-encoded-name-1"):
        assert value not in log
    assert "GET /v1/agents?access_token=[masked:secret]&limit=5 HTTP/1.1" in log
    assert "GET /v1/agents?token=[masked:secret] HTTP/1.1" in log
    assert (
        "POST /oauth/token?client_secret=[masked:secret]&client_assertion=[masked:secret]&code=[masked:secret]"
    ) in log
    assert "api_key=[masked:secret]&password=[masked:secret]&subject_token=[masked:secret]" in log
    assert "GET /v1/agents?access%5Ftoken=[masked:secret] HTTP/1.1" in log
    assert "GET /v1/agents/[masked:remit_adm] HTTP/1.1" in log
