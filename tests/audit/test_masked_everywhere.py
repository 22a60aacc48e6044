"""Secrets pasted into anything that reaches the audit log never come out of it: not from the store, the change
feed (``/v1/events``), the audit API, the chain API, an export (Remit's and OCSF) or the database's raw rows;
``masked`` says where they were; and the chain still verifies, through ``remit audit verify`` too.

One estate, changed over real HTTP and in process, with a different credential in each free-text field, on SQLite
and PostgreSQL, with each audit writer: inline (sync), the writer process (sync, a server's default), and the
spool (async).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from remit.admin.access import AdminPrincipal, AdminRole
from remit.audit.ocsf import to_ocsf
from remit.cli.main import app as cli
from remit.container import Remit
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from remit.settings import Settings, load_settings
from tests.api.conftest import serve

ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)
B64URL = string.ascii_letters + string.digits + "-_"


def _random(n: int, alphabet: str = B64URL) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _jwt() -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'EdDSA'})}.{part({'sub': _random(12)})}.{_random(86)}"


@pytest.fixture(
    params=[
        pytest.param({"writer": "inline"}, id="inline"),
        pytest.param({"writer": "process"}, id="writer-process"),
        pytest.param({"writer": "inline", "mode": "async"}, id="async-spool"),
    ]
)
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    return load_settings(home=tmp_path, database_url=database_url, audit=request.param)


@pytest.fixture
def planted() -> dict[str, str]:
    """A fresh credential for each place one is pasted (so that a leak names its place)."""
    return {
        "display name": f"remit_reg_{_random(43)}",
        "purpose": f"remit_adm_{_random(43)}",
        "agent attribute": "AKIA" + _random(16, string.ascii_uppercase + string.digits),
        "role description": _jwt(),
        "resource name": "ghp_" + _random(36, string.ascii_letters + string.digits),
        "suspend reason": f"remit_adm_{_random(43)}",
        "policy comment": _jwt(),
        "context value": "AKIA" + _random(16, string.ascii_uppercase + string.digits),
        "context key": f"remit_adm_{_random(43)}",
        "tool argument": _random(32, string.ascii_letters + string.digits),  # opaque: after "Bearer"
        "url password": _random(20, string.ascii_letters + string.digits),
    }


def _cli(settings: Settings, *args: str) -> Any:
    env = {"REMIT_HOME": str(settings.home), "REMIT_DATABASE_URL": settings.resolved_database_url}
    result = CliRunner().invoke(cli, list(args), env={**env, "REMIT_URL": None, "REMIT_TOKEN": None})
    assert result.exit_code == 0, result.output
    return result


def _pieces(secret: str, size: int = 8) -> Iterator[str]:
    body = secret.split("_", 2)[-1] if secret.startswith("remit_") else secret[4:] if secret[:4] == "AKIA" else secret
    return (body[i : i + size] for i in range(0, len(body) - size + 1))


def _leaks(planted: dict[str, str], where: str, content: str) -> list[str]:
    return [f"{place} in {where}" for place, secret in planted.items() if any(p in content for p in _pieces(secret))]


def test_secrets_pasted_anywhere_never_come_out_of_the_audit_log(
    remit: Remit, settings: Settings, planted: dict[str, str], tmp_path: Path
) -> None:
    r = remit.registry
    alice = UserDraft(id="alice", email="alice@example.org", display_name=f"Alice {planted['display name']}")
    r.create_user(ADMIN, alice)
    r.create_agent(
        ADMIN,
        AgentDraft(
            name="bot",
            owner="alice",
            purpose=f"summarises tickets; key is {planted['purpose']}",
            attributes={"notes": f"deployed with {planted['agent attribute']}"},
        ),
    )
    r.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    r.create_resource(
        ADMIN,
        ResourceDraft(
            id="helpdesk.get",
            kind=ResourceKind.TOOL,
            parent="helpdesk",
            display_name=f"get ({planted['resource name']})",
        ),
    )
    r.create_role(
        ADMIN,
        RoleDraft(
            name="reader",
            description=f"token {planted['role description']} must go",
            permissions=(Permission(("call_tool",), "helpdesk"),),
        ),
    )
    r.assign_agent(ADMIN, "reader", "bot", member=True)
    _, pep = remit.admin_tokens.create(ADMIN, name="pep", role=AdminRole.PEP)
    evaluation = {
        "subject": {"type": "agent", "id": "bot"},
        "action": {"name": "call_tool"},
        "resource": {"type": "tool", "id": "helpdesk.get"},
        "context": {
            "request": {"headers": {"x-debug": f"signed by {planted['context value']}/20260101"}},
            planted["context key"]: True,
            "arguments": {
                "query": f"fetch it with Bearer {planted['tool argument']}",
                "source": f"postgresql://remit:{planted['url password']}@db.internal/remit",
            },
        },
    }
    with serve(remit) as live:
        assert remit.audit_log.deferring is (settings.audit.writer == "process")  # the child masks, there
        assert remit.audit_log.mode == settings.audit.mode
        with live.client(live.admin_token) as api:
            reason = {"reason": f"leaked: key is {planted['suspend reason']}"}
            assert api.post("/v1/agents/bot/suspend", json=reason).status_code == 200
            assert api.post("/v1/agents/bot/resume", json={"reason": "rotated"}).status_code == 200
            policy = {
                "policies": '@id("no-risky")\nforbid(principal, action, resource) when { context has risk };',
                "comment": f"after {planted['policy comment']} was found in ticket 4411",
            }
            assert api.post("/v1/policies", json=policy).status_code == 201
        with live.client(pep) as client:
            answer = client.post("/access/v1/evaluation", json=evaluation)
            assert answer.status_code == 200 and answer.json()["decision"] is True
            decision_id = answer.json()["context"]["decision_id"]
        remit.audit_log.flush()
        with live.client(live.admin_token) as api:
            events = api.get("/v1/events", params={"limit": 200}).json()["items"]
            audit = api.get("/v1/audit", params={"limit": 200}).json()["items"]
            chain = api.get("/v1/audit/chain").json()
    remit.audit_log.stop()

    # what masking leaves, and where it says it did
    by_action = {e["action"]: e for e in events}
    suspend = by_action["agent.suspend"]
    assert suspend["reason"] == "leaked: key is [masked:remit_adm]"
    assert suspend["after"]["status_reason"] == "leaked: key is [masked:remit_adm]"
    assert suspend["masked"] == [  # the agent's purpose and attributes are in its snapshots too
        "after.attributes.notes",
        "after.purpose",
        "after.status_reason",
        "before.attributes.notes",
        "before.purpose",
        "reason",
    ]
    created = by_action["agent.create"]
    assert created["after"]["purpose"] == "summarises tickets; key is [masked:remit_adm]"
    assert created["after"]["attributes"]["notes"] == "deployed with [masked:aws_access_key]"
    assert created["masked"] == ["after.attributes.notes", "after.purpose"]
    assert by_action["policy.apply"]["after"]["comment"] == "after [masked:jwt] was found in ticket 4411"
    records = {rec["id"]: rec for rec in audit}
    decision = records[decision_id]
    assert decision["context"]["request"]["headers"]["x-debug"] == "signed by [masked:aws_access_key]/20260101"
    assert decision["context"]["[masked:remit_adm]"] is True
    assert decision["context"]["arguments"] == {
        "query": "fetch it with Bearer [masked:bearer]",
        "source": "postgresql://remit:[masked:password]@db.internal/remit",
    }
    assert decision["masked"] == [
        "context.[masked:remit_adm]",
        "context.arguments.query",
        "context.arguments.source",
        "context.request.headers.x-debug",
    ]
    change = next(rec for rec in audit if rec["kind"] == "change" and rec["action"] == "agent.suspend")
    assert change["reason"] == "leaked: key is [masked:remit_adm]" and change["masked"] == suspend["masked"]

    # the chain verifies, in the database and in an export file, through the CLI
    assert remit.audit.verify(None).ok
    export, ocsf = tmp_path / "audit.jsonl", tmp_path / "audit.ocsf.jsonl"
    _cli(settings, "audit", "export", "--out", str(export))
    _cli(settings, "audit", "export", "--out", str(ocsf), "--format", "ocsf")
    assert "verified" in _cli(settings, "audit", "verify").output
    assert "verified" in _cli(settings, "audit", "verify", "--file", str(export)).output
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert any(line.get("type") == "record" and decision_id in line["text"] for line in exported)

    # no part of any planted credential anywhere
    with remit.engine.connect() as conn:
        raw = {
            table: repr(conn.execute(text(f"SELECT * FROM {table}")).all())  # noqa: S608 - our own table names
            for table in ("audit_events", "events", "audit_checkpoints")
        }
    sources = {
        "/v1/events": json.dumps(events),
        "/v1/audit": json.dumps(audit),
        "/v1/audit/chain": json.dumps(chain),
        "the export": export.read_text(),
        "the OCSF export": ocsf.read_text(),
        "OCSF mapping": json.dumps([to_ocsf(rec) for rec in audit]),
        **{f"the {table} table": content for table, content in raw.items()},
    }
    spool = settings.audit.spool_file or settings.home / "audit.spool"
    if spool.exists():
        sources["the spool"] = spool.read_text()
    leaks = [leak for where, content in sources.items() for leak in _leaks(planted, where, content)]
    assert leaks == []
