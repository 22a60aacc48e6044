"""``remit registration-token``: initial access tokens for ``/oauth/register``, minted, listed and revoked on the
local estate and against a running server, and used by a client registering itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from remit.tokens import jose
from tests.cli.conftest import Run

Ok = Callable[..., Result]
AsJson = Callable[..., Any]


def test_registration_tokens_locally_and_remotely(
    server: str, estate: None, initialised: Path, ok: Ok, run: Run, as_json: AsJson
) -> None:
    made = as_json("registration-token", "create", "--owner", "alice", "--max-uses", "2", "--name", "onboarding")
    assert made["token"].startswith("remit_reg_") and made["owner"] == "alice" and made["max_uses"] == 2
    shown = ok("registration-token", "create", "--any-owner", "--expires-in", "2d")
    assert "for any owner" in shown.stdout and "shown once" in shown.stdout
    neither = run("registration-token", "create")
    assert neither.exit_code == 2 and "exactly one of --owner and --any-owner" in neither.output
    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    listed = as_json("registration-token", "list", env=remote)
    assert sorted(t["owner"] or "any" for t in listed) == ["alice", "any"]
    assert all("token" not in t for t in listed)
    key = jose.SigningKey.generate("EdDSA")
    body = {"client_name": "self-made", "owner": "alice", "jwks": {"keys": [key.public_key.to_jwk()]}}
    registered = httpx.post(f"{server}/oauth/register", json=body, headers={"Authorization": f"Bearer {made['token']}"})
    assert registered.status_code == 201, registered.text
    assert as_json("agent", "show", "self-made")["owner"] == "alice"
    revoked = as_json("registration-token", "revoke", made["id"], env=remote)
    assert (revoked["status"], revoked["use_count"]) == ("revoked", 1)
    table = ok("registration-token", "list").stdout
    assert made["id"] in table and "revoked" in table
