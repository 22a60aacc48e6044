"""``/v1/agents/{name}/keys`` over real HTTP: register, list and revoke an agent's private_key_jwt keys."""

from __future__ import annotations

import httpx

from remit.admin.access import AdminRole
from remit.clock import FrozenClock
from tests.api.conftest import LiveServer, TokenFactory
from tests.tokens.test_agent_keys import p384_jwk, public_jwk


def _agents(client: httpx.Client) -> None:
    for name, owner in (("helpdesk", "alice"), ("billing", "bob")):
        assert client.post("/v1/agents", json={"name": name, "owner": owner}).status_code == 201


def test_add_list_revoke(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory, clock: FrozenClock
) -> None:
    _agents(admin_client)
    jwk = public_jwk()
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        added = alice.post("/v1/agents/helpdesk/keys", json={"jwk": jwk})
        assert added.status_code == 201, added.text
        key = added.json()
        assert (key["agent"], key["alg"], key["status"], key["revoked_at"]) == ("helpdesk", "EdDSA", "active", None)
        assert key["jwk"] == {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": jwk["x"],
            "kid": key["kid"],
            "alg": "EdDSA",
            "use": "sig",
        }
        listed = alice.get("/v1/agents/helpdesk/keys").json()
        assert [k["kid"] for k in listed["items"]] == [key["kid"]]
        assert listed["next_cursor"] is None

        revoked = alice.delete(f"/v1/agents/helpdesk/keys/{key['kid']}")
        assert revoked.status_code == 200
        assert (revoked.json()["status"], revoked.json()["revoked_at"]) == ("revoked", "2026-01-01T00:00:00Z")
        again = alice.delete(f"/v1/agents/helpdesk/keys/{key['kid']}")
        assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_unusable_keys_are_4xx(admin_client: httpx.Client, users: list[str]) -> None:
    _agents(admin_client)
    cases = {
        "private": (
            {**public_jwk(), "d": "AAAA"},
            "a private or symmetric key was given where a public key is expected",
        ),
        "hs": ({"kty": "oct", "alg": "HS256"}, "symmetric (oct) keys are not accepted"),
        "curve": (p384_jwk(), "agent keys use one of ES256, EdDSA, PS256, RS256; this key is ES384"),
    }
    for case, (jwk, message) in cases.items():
        r = admin_client.post("/v1/agents/helpdesk/keys", json={"jwk": jwk})
        assert r.status_code == 422, case
        assert (r.json()["code"], r.json()["field"], r.json()["message"]) == ("invalid_key", "jwk", message), case
    assert admin_client.get("/v1/agents/helpdesk/keys").json()["items"] == []


def test_another_owners_agent_is_not_found(
    live: LiveServer, admin_client: httpx.Client, users: list[str], mint: TokenFactory
) -> None:
    _agents(admin_client)
    bobs = admin_client.post("/v1/agents/billing/keys", json={"jwk": public_jwk()}).json()
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as alice:
        for r in (
            alice.post("/v1/agents/billing/keys", json={"jwk": public_jwk()}),
            alice.get("/v1/agents/billing/keys"),
            alice.delete(f"/v1/agents/billing/keys/{bobs['kid']}"),
        ):
            assert r.status_code == 404
            assert (r.json()["code"], r.json()["message"]) == ("not_found", "no such agent 'billing'")
