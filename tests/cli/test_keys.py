"""``remit keys``: list, rotate, jwks, on the local estate and against a running server; refusals as one clear line."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import Result

from tests.cli.conftest import Run

Ok = Callable[..., Result]
AsJson = Callable[..., Any]


def jwks(ok: Ok, **env: str) -> dict[str, Any]:
    """``remit keys jwks`` prints the JWK Set as JSON, with or without ``--json``."""
    data: dict[str, Any] = json.loads(ok("keys", "jwks", env=env or None).stdout)
    return data


def test_local(initialised: Path, ok: Ok, run: Run, as_json: AsJson, home: Path) -> None:
    [jwk] = jwks(ok)["keys"]
    assert "d" not in jwk and jwk["alg"] == "EdDSA"
    assert (home / "keys" / "kek").stat().st_mode & 0o777 == 0o600
    listed = as_json("keys", "list")
    assert [(k["kid"], k["status"]) for k in listed] == [(jwk["kid"], "active")]
    table = ok("keys", "list").stdout
    assert jwk["kid"] in table and "active" in table

    rotated = ok("keys", "rotate", "--reason", "quarterly")
    assert "is active" in rotated.stdout and "verifies the tokens it signed until" in rotated.stderr
    keys = as_json("keys", "list")
    assert [k["status"] for k in keys] == ["active", "retired"]
    assert keys[1]["kid"] == jwk["kid"]
    events = as_json("events", "--target-type", "signing_key")
    assert [(e["action"], e["reason"]) for e in events][:2] == [
        ("signing_key.create", "quarterly"),
        ("signing_key.retire", "quarterly"),
    ]
    assert events[0]["actor"].startswith("local:")

    # revoking asks first; without an answer nothing changes
    refused = run("keys", "rotate", "--revoke-previous")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert len(as_json("keys", "list")) == 2
    revoked = as_json("keys", "rotate", "--revoke-previous", "--yes")
    assert revoked["retired"]["status"] == "expired"
    assert revoked["retired"]["kid"] == keys[0]["kid"]
    # the revoked key is gone at once; the first one still verifies what it signed
    assert [k["kid"] for k in jwks(ok)["keys"]] == [revoked["active"]["kid"], jwk["kid"]]


def test_bad_reason_is_one_line(initialised: Path, run: Run) -> None:
    bad = run("keys", "rotate", "--reason", "x" * 501)
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: --reason")


def test_uninitialised_home_is_refused(home: Path, run: Run) -> None:
    result = run("keys", "list")
    assert result.exit_code == 1
    assert "remit init" in result.stderr


def test_serve_refuses_a_key_encryption_key_that_does_not_open_the_key(
    initialised: Path, ok: Ok, run: Run, home: Path
) -> None:
    ok("keys", "rotate")  # a key sealed with the home's default key-encryption key
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    result = run("serve", "--port", "1", env={"REMIT_KEY_ENCRYPTION_KEY": other})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the active signing key ")
    assert "give every server the same REMIT_KEY_ENCRYPTION_KEY or tokens.kek_file" in result.stderr
    assert other not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_loose_kek_file_is_refused_with_the_fix(initialised: Path, ok: Ok, run: Run, home: Path) -> None:
    ok("keys", "jwks")
    kek = home / "keys" / "kek"
    kek.chmod(0o644)
    result = run("keys", "rotate")
    assert result.exit_code == 1
    assert f"chmod 600 {kek}" in result.stderr


def test_remote(server: str, initialised: Path, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    token = initialised.read_text().strip()
    remote = {"REMIT_URL": server, "REMIT_TOKEN": token}
    assert [k["kid"] for k in jwks(ok, **remote)["keys"]] == [k["kid"] for k in as_json("keys", "list")]
    rotated = as_json("keys", "rotate", "--reason", "from afar", env=remote)
    assert as_json("keys", "list", env=remote) == as_json("keys", "list")  # identical output either way
    assert as_json("keys", "list")[0]["kid"] == rotated["active"]["kid"]
    assert jwks(ok) == jwks(ok, **remote)

    auditor = as_json("admin-token", "create", "--name", "audit", "--role", "auditor")["token"]
    as_auditor = {**remote, "REMIT_TOKEN": auditor}
    assert len(as_json("keys", "list", env=as_auditor)) == 2
    refused = run("keys", "rotate", env=as_auditor)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "error: role auditor may not key.rotate"

    wrong = run("keys", "list", env={**remote, "REMIT_TOKEN": "remit_adm_wrong_wrong_wrong"})
    assert wrong.exit_code == 1 and "REMIT_TOKEN" in wrong.stderr


def test_agent_keys_remote(server: str, initialised: Path, ok: Ok, run: Run, as_json: AsJson, tmp_path: Path) -> None:
    from tests.tokens.test_agent_keys import public_jwk

    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    ok("user", "create", "alice", "--email", "alice@example.com", env=remote)
    ok("agent", "create", "ticket-bot", "--owner", "alice", env=remote)
    jwk_file = tmp_path / "key.json"
    jwk_file.write_text(json.dumps(public_jwk("ES256")))
    added = as_json("agent", "key", "add", "ticket-bot", "--jwk", str(jwk_file), env=remote)
    assert (added["alg"], added["status"]) == ("ES256", "active")
    assert as_json("agent", "key", "list", "ticket-bot", env=remote) == as_json("agent", "key", "list", "ticket-bot")
    revoked = as_json("agent", "key", "revoke", "--", "ticket-bot", added["kid"], env=remote)
    assert revoked["status"] == "revoked"
    gone = run("agent", "key", "list", "ghost", env=remote)
    assert gone.exit_code == 1 and gone.stderr.strip() == "error: NAME: no such agent 'ghost'"


def test_agent_client_remote(server: str, initialised: Path, ok: Ok, run: Run, as_json: AsJson) -> None:
    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    ok("user", "create", "alice", "--email", "alice@example.com", env=remote)
    ok("agent", "create", "ticket-bot", "--owner", "alice", env=remote)
    assert as_json("agent", "client", "show", "ticket-bot", env=remote)["dpop_bound_access_tokens"] is False
    required = as_json("agent", "client", "set", "ticket-bot", "--dpop", env=remote)
    assert required["dpop_bound_access_tokens"] is True and required["updated_by"].startswith("token:")
    assert as_json("agent", "client", "show", "ticket-bot") == required  # the same store, read locally
    assert "must use DPoP" in ok("agent", "client", "set", "ticket-bot", "--dpop", env=remote).stdout
    gone = run("agent", "client", "set", "ghost", "--no-dpop", env=remote)
    assert gone.exit_code == 1 and gone.stderr.strip() == "error: NAME: no such agent 'ghost'"
