"""``remit token issue|inspect|revoke``: on the local estate in process and against a running server; bad input is
one clear line and a non-zero exit, never a traceback; no private key is ever printed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from remit.cli.main import app
from remit.tokens import jose
from tests.cli.conftest import Run

Ok = Callable[..., Result]
AsJson = Callable[..., Any]

POLICY = """@id("bot-reads-tickets")
permit(principal == Agent::"ticket-bot", action == Action::"call_tool", resource == Tool::"helpdesk.get_ticket");
"""
RESOURCE = "https://mcp.example.org/helpdesk"
SCOPE = "call_tool:helpdesk.get_ticket"
PICKUP_SECONDS = 10.0


def bot(ok: Ok, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[jose.SigningKey, Path, Path]:
    """The agent ticket-bot of alice, allowed one tool; its key registered. (key, PEM file, private JWK file)."""
    ok("agent", "create", "ticket-bot", "--owner", "alice", env=env)
    policy = tmp_path / "bot.cedar"
    policy.write_text(POLICY)
    ok("policy", "apply", str(policy), env=env)
    key = jose.SigningKey.generate("EdDSA")
    public = tmp_path / "bot.pub.json"
    public.write_text(json.dumps(key.public_key.to_jwk()))
    ok("agent", "key", "add", "ticket-bot", "--jwk", str(public), env=env)
    pem = tmp_path / "bot.pem"
    pem.write_bytes(key.private_pem())
    pem.chmod(0o600)
    if env is not None:  # a server compiles the new policy at its next poll (every 0.25 s)
        deadline = time.monotonic() + PICKUP_SECONDS
        args = ["token", "issue", "ticket-bot", "--key", str(pem), "--resource", RESOURCE, "--scope", SCOPE]
        while CliRunner().invoke(app, args, env=env).exit_code != 0:
            assert time.monotonic() < deadline, "the server did not pick up the policy"
            time.sleep(0.1)
    return key, pem, public


def private_jwk_file(tmp_path: Path, key: jose.SigningKey) -> Path:
    """The same key as a private JWK (through PEM, so the test needs no private API)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    native = serialization.load_pem_private_key(key.private_pem(), password=None)
    assert isinstance(native, Ed25519PrivateKey)
    raw = native.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    jwk = {**key.public_key.to_jwk(), "d": jose_b64(raw)}
    path = tmp_path / "bot.jwk.json"
    path.write_text(json.dumps(jwk))
    return path


def jose_b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue(ok: Ok, key_file: Path, env: dict[str, str] | None = None) -> str:
    result = ok(
        "token", "issue", "ticket-bot", "--key", str(key_file), "--resource", RESOURCE, "--scope", SCOPE, env=env
    )
    token = result.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert "expires in" in result.stderr
    return token


def no_private_key(result: Result, key: jose.SigningKey) -> None:
    pem = key.private_pem().decode()
    body = pem.split("-----")[2].strip()
    assert body not in result.output and "PRIVATE KEY" not in result.output


def test_local(estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    key, pem, _ = bot(ok, tmp_path)
    token = issue(ok, pem)
    body = as_json(
        "token",
        "issue",
        "ticket-bot",
        "--key",
        str(private_jwk_file(tmp_path, key)),
        "--resource",
        RESOURCE,
        "--scope",
        SCOPE,
    )
    assert (body["token_type"], body["scope"]) == ("Bearer", SCOPE)

    shown = ok("token", "inspect", token)
    for label in ("Header (UNVERIFIED)", "Claims (UNVERIFIED)", "Verification against local", "ticket-bot"):
        assert label in shown.stdout
    assert f"valid (key {json.loads(ok('keys', 'jwks').stdout)['keys'][0]['kid']})" in shown.stdout
    assert re.search(r"expiry +valid for (5m 0s|4m [345]\ds)", shown.stdout)  # five minutes, less the test's time
    no_private_key(shown, key)
    report = as_json("token", "inspect", token)
    assert report["valid"] is True and report["introspection"]["active"] is True
    assert report["claims"]["sub"] == "ticket-bot" and report["header"]["typ"] == "at+jwt"

    revoked = ok("token", "revoke", token, "--key", str(pem))
    assert "revocation accepted by local" in revoked.stdout
    after = run("token", "inspect", token)
    assert after.exit_code == 1 and "not active" in after.stderr
    assert json.loads(run("token", "inspect", token, "--json").stdout)["introspection"] == {"active": False}

    # as the local admin: by jti and agent, then by the token itself
    second = issue(ok, pem)
    jti = as_json("token", "inspect", second)["claims"]["jti"]
    by_jti = as_json("token", "revoke", "--jti", jti, "--agent", "ticket-bot", "--reason", "rotating the bot")
    assert (by_jti["jti"], by_jti["agent"], by_jti["already_revoked"]) == (jti, "ticket-bot", False)
    assert run("token", "inspect", second).exit_code == 1
    again = ok("token", "revoke", second, "--reason", "twice")
    assert f"token {jti} of agent ticket-bot was already revoked" in again.stdout
    records = as_json("audit", "search", "--kind", "token", "--action", "token.revoke")
    assert {r["source"] for r in records} == {"token", "admin"}
    assert all(token not in json.dumps(r) and second not in json.dumps(r) for r in records)


def test_stdin_and_stdout(estate: None, ok: Ok, tmp_path: Path, home: Path) -> None:
    _, pem, _ = bot(ok, tmp_path)
    token = issue(ok, pem)
    result = CliRunner().invoke(app, ["token", "inspect", "-", "--json"], input=f"{token}\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


def test_remote(
    server: str, initialised: Path, estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path
) -> None:
    admin = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    key, pem, _ = bot(ok, tmp_path, admin)
    agent_only = {"REMIT_URL": server}  # what an agent has: the server's address, no admin token
    token = issue(ok, pem, agent_only)
    unverified_only = as_json("token", "inspect", token, env=agent_only)
    assert unverified_only["valid"] is True and unverified_only["verified_against"] == server
    assert "REMIT_TOKEN" in unverified_only["introspection"]["skipped"]
    shown = ok("token", "inspect", token, env=admin)
    assert f"Verification against {server}" in shown.stdout and "active" in shown.stdout
    no_private_key(shown, key)
    # the local estate names another issuer (its default address), so it does not take the server's token for its own
    local = run("token", "inspect", token)
    assert local.exit_code == 1 and "the token was issued by another issuer" in local.stderr
    ok("token", "revoke", token, "--key", str(pem), env=agent_only)
    refused = run("token", "inspect", token, env=admin)
    assert refused.exit_code == 1 and "not active" in refused.stderr

    second = issue(ok, pem, agent_only)
    jti = as_json("token", "inspect", second, env=agent_only)["claims"]["jti"]
    as_owner = {
        **admin,
        "REMIT_TOKEN": as_json("admin-token", "create", "--name", "alice", "--role", "owner", "--user", "alice")[
            "token"
        ],
    }
    done = ok("token", "revoke", "--jti", jti, "--agent", "ticket-bot", env=as_owner)
    assert f"token {jti} of agent ticket-bot is revoked" in done.stdout
    assert run("token", "inspect", second, env=admin).exit_code == 1
    third = issue(ok, pem, agent_only)
    as_bob = {
        **admin,
        "REMIT_TOKEN": as_json("admin-token", "create", "--name", "bob", "--role", "owner", "--user", "bob")["token"],
    }
    hidden = run("token", "revoke", third, env=as_bob)
    assert hidden.exit_code == 1 and hidden.stderr.strip() == "error: name: no such agent 'ticket-bot'"
    # --url on the command itself
    assert as_json("token", "inspect", third, "--url", server)["valid"] is True


@pytest.mark.parametrize("where", ["local", "remote"])
def test_bad_input_is_one_line(
    where: str, server: str, initialised: Path, estate: None, ok: Ok, run: Run, tmp_path: Path
) -> None:
    env = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()} if where == "remote" else None
    key, pem, public = bot(ok, tmp_path, env)
    token = issue(ok, pem, env)

    def refused(code: int, *args: str) -> str:
        """The message, as one line: exit 1 prints exactly one; a usage error (2) is framed by Typer."""
        result = run(*args, env=env)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        if code == 1:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return " ".join(result.stderr.replace("│", " ").split())

    assert "error: TOKEN: not a JWT" in refused(1, "token", "inspect", "not-a-token")
    assert "error: TOKEN: not a JWT" in refused(1, "token", "inspect", "a.b.c")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert "the token does not verify: the signature does not verify" in refused(1, "token", "inspect", tampered)
    missing = str(tmp_path / "nowhere.pem")
    assert "cannot read" in refused(
        2, "token", "issue", "ticket-bot", "--key", missing, "--resource", RESOURCE, "--scope", SCOPE
    )
    assert "holds no usable private key" in refused(
        2, "token", "issue", "ticket-bot", "--key", str(public), "--resource", RESOURCE, "--scope", SCOPE
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    assert "holds no usable private key" in refused(
        2, "token", "issue", "ticket-bot", "--key", str(garbage), "--resource", RESOURCE, "--scope", SCOPE
    )
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(jose.SigningKey.generate("EdDSA").private_pem())
    line = refused(1, "token", "issue", "ticket-bot", "--key", str(wrong), "--resource", RESOURCE, "--scope", SCOPE)
    assert line.strip() == "error: invalid_client: the signing key is unknown"
    line = refused(1, "token", "issue", "ticket-bot", "--key", str(pem), "--resource", "not a uri", "--scope", SCOPE)
    assert line.startswith("error: invalid_target: ")
    line = refused(1, "token", "issue", "ticket-bot", "--key", str(pem), "--resource", RESOURCE, "--scope", "x:y")
    assert line.startswith("error: invalid_scope: ")
    assert "--jti with --agent" in refused(2, "token", "revoke")
    assert "--jti is for admins" in refused(2, "token", "revoke", token, "--key", str(pem), "--jti", "x")
    assert "cannot be revoked" in refused(1, "token", "revoke", "not.a.jwt")
    assert "no such agent 'ghost'" in refused(1, "token", "revoke", "--jti", "at_x", "--agent", "ghost")
    for result in (run("token", "inspect", token, env=env),):
        no_private_key(result, key)


def test_a_generated_key_gets_a_token(estate: None, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    ok("agent", "create", "ticket-bot", "--owner", "alice")
    policy = tmp_path / "bot.cedar"
    policy.write_text(POLICY)
    ok("policy", "apply", str(policy))
    out = tmp_path / "ticket-bot.pem"
    made = as_json("agent", "key", "generate", "ticket-bot", "--out", str(out))
    assert made["agent"] == "ticket-bot" and made["private_key_file"] == str(out)
    assert out.stat().st_mode & 0o777 == 0o600 and "PRIVATE KEY" in out.read_text()
    assert [k["kid"] for k in as_json("agent", "key", "list", "ticket-bot")] == [made["kid"]]
    assert issue(ok, out).count(".") == 2  # the key works at once
    again = run("agent", "key", "generate", "ticket-bot", "--out", str(out))
    assert again.exit_code == 2 and "exists; choose another file" in again.output
    ghost = run("agent", "key", "generate", "ghost", "--out", str(tmp_path / "ghost.pem"))
    assert ghost.exit_code == 1 and "no such agent 'ghost'" in ghost.stderr
    assert not (tmp_path / "ghost.pem").exists()  # never registered, so not left behind


@pytest.mark.parametrize("exp", [10**400, -(10**400), 1e300, True, 253402300800])
def test_inspect_reports_a_hostile_expiry_and_does_not_raise(
    estate: None, ok: Ok, run: Run, tmp_path: Path, exp: object
) -> None:
    _, pem, _ = bot(ok, tmp_path)
    claims = json.loads(jose.parse_compact(issue(ok, pem)).payload)  # a real token's claims, but for its expiry
    token = jose.sign_jwt({**claims, "exp": exp}, jose.SigningKey.generate("EdDSA"), typ="at+jwt")
    result = run("token", "inspect", token, "--json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["expires_in"] is None
    assert "'exp' claim is not a number" in report["claims_check"]["error"]
