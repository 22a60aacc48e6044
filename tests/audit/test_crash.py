"""Nothing acknowledged is lost: decisions under load, ``kill -9`` of the server, restart, every decision whose
response reached a client is in the log, and the chain verifies. In sync mode and in async (spool) mode."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from remit.settings import Settings, load_settings
from remit.store.audit import AuditStore

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
#: responses to collect before the kill; the clients keep sending, so requests are in flight when it lands
BEFORE_KILL = 300


def _estate(settings: Settings) -> str:
    """An agent with a role on a tool, one policy; returns a PEP token."""
    remit = Remit.from_settings(settings)
    try:
        r = remit.registry
        r.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
        r.create_agent(ADMIN, AgentDraft(name="bot", owner="alice"))
        r.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
        r.create_resource(ADMIN, ResourceDraft(id="helpdesk.get", kind=ResourceKind.TOOL, parent="helpdesk"))
        r.create_role(ADMIN, RoleDraft(name="reader", permissions=(Permission(("call_tool",), "helpdesk"),)))
        r.assign_agent(ADMIN, "reader", "bot", member=True)
        remit.policies.apply(
            ADMIN,
            '@id("no-risky")\nforbid(principal, action, resource) when { context has risk && context.risk > 80 };',
        )
        _, secret = remit.admin_tokens.create(ADMIN, name="pep", role=AdminRole.PEP)
        return secret
    finally:
        remit.close()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "remit", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(600):  # bounded wait for start-up, not a timing assertion
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            try:
                proc.wait(timeout=0.1)
                raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
            except subprocess.TimeoutExpired:
                pass
        else:
            raise AssertionError("server did not become healthy")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_acknowledged_decision_survives_kill_9(tmp_path: Path, database_url: str, mode: str) -> None:
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REMIT_")},
        "REMIT_HOME": str(home),
        "REMIT_AUDIT__MODE": mode,
    }
    overrides: dict[str, object] = {"home": home, "audit": {"mode": mode}}
    if not database_url.startswith("sqlite"):
        env["REMIT_DATABASE_URL"] = database_url
        overrides["database_url"] = database_url
    settings = load_settings(**overrides)
    token = _estate(settings)
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def client(url: str, n: int) -> None:
        body = {
            "subject": {"type": "agent", "id": "bot"},
            "action": {"name": "call_tool"},
            "resource": {"type": "tool", "id": "helpdesk.get"},
            "context": {"risk": 90 if n % 3 == 0 else 10, "request": n},
        }
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=5) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/access/v1/evaluation", json=body)
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(answer.json()["context"]["decision_id"])
                        if len(acknowledged) >= BEFORE_KILL:
                            enough.set()

    with _server(env, tmp_path / "server.log") as (proc, url):
        clients = [threading.Thread(target=client, args=(url, n)) for n in range(6)]
        for t in clients:
            t.start()
        assert enough.wait(120), "the clients got too few answers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        stop.set()
        for t in clients:
            t.join(10)
    with lock:
        received = list(acknowledged)
    assert len(received) >= BEFORE_KILL

    if mode == "async":  # a restart replays the spool into the chain before serving
        with _server(env, tmp_path / "server.log"):
            pass
    remit = Remit.from_settings(settings)
    try:
        stored = {json.loads(r.text)["id"] for r in AuditStore(remit.engine).records()}
        missing = [d for d in received if d not in stored]
        assert not missing, f"{len(missing)} acknowledged decisions are not in the log, e.g. {missing[:3]}"
        report = remit.audit.verify(None)
        assert report.ok, report.problem
    finally:
        remit.close()
