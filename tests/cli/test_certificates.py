"""``remit ca`` and ``remit agent cert``: on the local estate and against a running server, refusals as one line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from typer.testing import Result

from tests.cli.conftest import Run
from tests.tokens.certs import agent_key, csr_pem

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
        "error: csr: the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----"
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
