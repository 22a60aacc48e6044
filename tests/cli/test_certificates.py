"""``remit ca`` and ``remit agent cert``: on the local estate and against a running server, refusals as one line."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from typer.testing import Result

from tests.cli.conftest import STARTUP_POLLS, Run, _free_port
from tests.tokens.certs import agent_key, csr_pem, key_pem, server_certificate

Ok = Callable[..., Result]
AsJson = Callable[..., Any]


def _agents(ok: Ok) -> None:
    ok("agent", "create", "helpdesk", "--owner", "alice")
    ok("agent", "create", "billing", "--owner", "bob")


def _csr(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "agent.csr"
    path.write_text(text if text is not None else csr_pem(agent_key("p256")), encoding="ascii")
    return path


def _lifecycle(ok: Ok, run: Run, as_json: AsJson, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    refused = run("ca", "show", env=env)
    assert refused.exit_code == 1
    assert (
        refused.stderr.strip()
        == "error: Remit has no certificate authority yet: an admin makes it with `remit ca init`"
    )
    made = as_json("ca", "init", "--organization", "Example Corp", "--valid-days", "365", env=env)
    assert (made["subject"], made["key_type"]) == ("O=Example Corp,CN=Remit agent CA", "p256")
    pem = ok("ca", "show", env=env).stdout
    ca = x509.load_pem_x509_certificate(pem.encode())
    assert ca.subject.rfc4514_string() == made["subject"]
    again = run("ca", "init", env=env)
    assert again.exit_code == 1 and "Remit's CA already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    out = tmp_path / "helpdesk.pem"
    issued = ok(
        "agent",
        "cert",
        "issue",
        "helpdesk",
        "--csr",
        str(_csr(tmp_path)),
        "--valid-for",
        "2h",
        "--out",
        str(out),
        env=env,
    )
    assert "valid until" in issued.stdout and str(out) in issued.stdout.replace("\n", "")
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(
        hours=2, minutes=5
    )  # notBefore: 5 min of skew
    printed = ok("agent", "cert", "issue", "helpdesk", "--csr", str(_csr(tmp_path)), env=env).stdout
    assert printed.startswith("-----BEGIN CERTIFICATE-----")

    listed = as_json("agent", "cert", "list", "helpdesk", env=env)
    assert [c["status"] for c in listed] == ["active", "active"]
    serial = f"{cert.serial_number:x}"
    assert listed[0]["serial"] == serial
    assert serial in ok("agent", "cert", "list", "helpdesk", env=env).stdout
    revoked = ok("agent", "cert", "revoke", "helpdesk", serial, "--reason", "rotated", env=env)
    assert f"certificate {serial} of agent helpdesk is revoked" in revoked.stdout
    assert [c["status"] for c in as_json("agent", "cert", "list", "helpdesk", env=env)] == ["revoked", "active"]

    bad = run("agent", "cert", "issue", "helpdesk", "--csr", str(_csr(tmp_path, "garbage")), env=env)
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "error: --csr: the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----"
    )
    duration = run("agent", "cert", "issue", "helpdesk", "--csr", str(_csr(tmp_path)), "--valid-for", "soon", env=env)
    assert duration.exit_code == 2 and "--valid-for" in duration.output
    missing = run("agent", "cert", "revoke", "helpdesk", "abc", env=env)
    assert missing.exit_code == 1 and "agent 'helpdesk' has no certificate 'abc'" in missing.stderr


def test_local(estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    _agents(ok)
    _lifecycle(ok, run, as_json, tmp_path)
    events = as_json("events", "--target-type", "agent", "--target-id", "helpdesk")
    actions = [e["action"] for e in events if e["action"].startswith("agent_certificate.")]
    assert actions == ["agent_certificate.revoke", "agent_certificate.issue", "agent_certificate.issue"]


def test_against_a_server(
    estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path, server: str, initialised: Path
) -> None:
    _agents(ok)
    env = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    _lifecycle(ok, run, as_json, tmp_path, env)


def test_serve_with_tls(estate: None, ok: Ok, home: Path, tmp_path: Path) -> None:
    """``remit serve`` with ``api.tls_*``: HTTPS, Remit's CA written to <home>/agent-ca.pem, a client certificate
    from it authenticating at the token endpoint."""
    _agents(ok)
    ok("ca", "init")
    key = agent_key("p256")
    (tmp_path / "agent.csr").write_text(csr_pem(key))
    (tmp_path / "agent.key").write_bytes(key_pem(key))
    ok("agent", "cert", "issue", "helpdesk", "--csr", str(tmp_path / "agent.csr"), "--out", str(tmp_path / "agent.pem"))
    cert_file, key_file = server_certificate(tmp_path)
    port = _free_port()
    env = {
        **os.environ,
        "REMIT_HOME": str(home),
        "REMIT_API__TLS_CERT_FILE": str(cert_file),
        "REMIT_API__TLS_KEY_FILE": str(key_file),
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "remit", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    context = ssl.create_default_context(cafile=str(cert_file))
    context.load_cert_chain(str(tmp_path / "agent.pem"), str(tmp_path / "agent.key"))
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=5) as client:
            for _ in range(STARTUP_POLLS):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(f"remit serve exited:\n{log.read_text()}")
            assert "Remit API on https://" in log.read_text()
            assert (home / "agent-ca.pem").read_text() == ok("ca", "show").stdout
            form = {"grant_type": "client_credentials", "client_id": "helpdesk", "resource": "https://x.example"}
            r = client.post("/oauth/token", data=form)
            # authenticated by the certificate; refused only for the missing scope
            assert (r.status_code, r.json()["error"]) == (400, "invalid_scope"), r.text
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
