"""``/.well-known/jwks.json`` and ``/v1/keys`` over real HTTP: public keys for anyone, listing for readers, rotation for
admins; and a server that cannot open its signing key refuses to start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from remit.admin.access import AdminPrincipal, AdminRole
from remit.api.app import create_app
from remit.clock import FrozenClock
from remit.container import Remit
from remit.registry.service import UserDraft
from remit.settings import Settings
from remit.tokens.kek import KeyDecryptionError
from tests.api.conftest import LiveServer, TokenFactory, serve
from tests.tokens.test_keys import OVERLAP, verify_with_jwk

ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)


@pytest.fixture
def live(remit: Remit) -> Iterator[LiveServer]:
    with serve(remit) as server:
        yield server


@pytest.fixture
def admin_client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_token) as client:
        yield client


@pytest.fixture
def mint(live: LiveServer) -> TokenFactory:
    """``mint(role, user_id=None)``: a bearer value for a new admin token; owners act for the user alice."""
    live.remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))

    def make(role: AdminRole, user_id: str | None = None) -> str:
        _, secret = live.remit.admin_tokens.create(ADMIN, name=f"{role.value} for tests", role=role, user_id=user_id)
        return secret

    return make


def test_jwks_is_public_and_cacheable(live: LiveServer) -> None:
    with live.client() as anonymous:
        r = anonymous.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["content-type"] == "application/json"
    [jwk] = r.json()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}  # never "d"
    active = live.remit.signing_keys.active()
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (active.kid, "EdDSA", "sig")
    verify_with_jwk(jwk, b"header.claims", active.sign(b"header.claims"))


def test_no_or_bad_token_is_401(live: LiveServer) -> None:
    for token in (None, "remit_adm_" + "A" * 43):
        with live.client(token) as client:
            for r in (client.get("/v1/keys"), client.post("/v1/keys/rotate")):
                assert r.status_code == 401
                assert r.json()["code"] == "unauthenticated"
                assert r.headers["www-authenticate"].startswith("Bearer")
    assert live.remit.signing_keys.list(ADMIN) == ()  # nothing was rotated (or made)


@pytest.mark.parametrize(
    ("role", "can_list"),
    [(AdminRole.AUDITOR, True), (AdminRole.OWNER, False), (AdminRole.PEP, False)],
    ids=["auditor", "owner", "pep"],
)
def test_only_admins_rotate(live: LiveServer, mint: TokenFactory, role: AdminRole, can_list: bool) -> None:
    kid = live.remit.signing_keys.active().kid
    with live.client(mint(role, user_id="alice" if role is AdminRole.OWNER else None)) as client:
        listed = client.get("/v1/keys")
        rotated = client.post("/v1/keys/rotate", json={"reason": "mine now"})
    if can_list:
        assert listed.status_code == 200
        assert [k["kid"] for k in listed.json()["items"]] == [kid]
    else:
        assert listed.status_code == 403
        assert listed.json() == {"code": "forbidden", "message": f"role {role.value} may not key.read", "field": None}
    assert rotated.status_code == 403
    assert rotated.json() == {"code": "forbidden", "message": f"role {role.value} may not key.rotate", "field": None}
    assert live.remit.signing_keys.active().kid == kid


def test_admin_rotates_with_overlap(live: LiveServer, admin_client: httpx.Client, clock: FrozenClock) -> None:
    old = live.remit.signing_keys.active().kid
    r = admin_client.post("/v1/keys/rotate", json={"reason": "quarterly"})
    assert r.status_code == 201
    body = r.json()
    new = body["active"]["kid"]
    assert (body["active"]["status"], body["retired"]["kid"], body["retired"]["status"]) == ("active", old, "retired")
    assert body["retired"]["verify_until"] == (clock.now() + OVERLAP).isoformat().replace("+00:00", "Z")
    assert set(body["active"]["jwk"]) == {"kty", "crv", "x", "kid", "alg", "use"}
    with httpx.Client(base_url=live.url) as anonymous:
        assert [k["kid"] for k in anonymous.get("/.well-known/jwks.json").json()["keys"]] == [new, old]
        clock.advance(OVERLAP)
        assert [k["kid"] for k in anonymous.get("/.well-known/jwks.json").json()["keys"]] == [new]
    listed = admin_client.get("/v1/keys").json()
    assert listed["next_cursor"] is None
    assert [(k["kid"], k["status"]) for k in listed["items"]] == [(new, "active"), (old, "expired")]
    trail = admin_client.get("/v1/events", params={"target_type": "signing_key"}).json()["items"]
    assert [(e["action"], e["target_id"]) for e in trail] == [
        ("signing_key.create", new),
        ("signing_key.retire", old),
        ("signing_key.create", old),
    ]


def test_revoke_previous(live: LiveServer, admin_client: httpx.Client) -> None:
    old = live.remit.signing_keys.active().kid
    r = admin_client.post("/v1/keys/rotate", json={"revoke_previous": True, "reason": "leaked"})
    assert r.status_code == 201
    assert (r.json()["retired"]["kid"], r.json()["retired"]["status"]) == (old, "expired")
    assert [k["kid"] for k in admin_client.get("/.well-known/jwks.json").json()["keys"]] == [r.json()["active"]["kid"]]


def test_rotate_without_a_body(admin_client: httpx.Client) -> None:
    r = admin_client.post("/v1/keys/rotate")
    assert r.status_code == 201
    assert r.json()["retired"] is None  # no key existed yet: this made the first


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": 5}, "reason"),
        ({"reason": "bad\x01"}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"revoke_previous": "maybe"}, "revoke_previous"),
        ({"kid": "mine"}, "kid"),
    ],
    ids=["reason-type", "reason-control", "reason-long", "revoke-type", "unknown"],
)
def test_bad_rotation_requests_are_422(admin_client: httpx.Client, body: dict[str, object], field: str) -> None:
    r = admin_client.post("/v1/keys/rotate", json=body)
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["field"]) == ("invalid_request", field)
    assert admin_client.get("/v1/keys").json()["items"] == []


def test_keys_are_in_the_openapi_document(live: LiveServer) -> None:
    paths = httpx.get(f"{live.url}/openapi.json").json()["paths"]
    assert {"/.well-known/jwks.json", "/v1/keys", "/v1/keys/rotate"} <= set(paths)


def test_a_server_that_cannot_open_its_key_refuses_to_start(
    remit: Remit, settings: Settings, clock: FrozenClock
) -> None:
    remit.signing_keys.active()
    other = settings.model_copy(update={"key_encryption_key": SecretStr("A" * 43)})
    second = Remit.from_settings(other, clock=clock, migrate_schema=False)
    try:
        with pytest.raises(KeyDecryptionError) as info:
            create_app(other, remit=second)
        assert info.value.message.startswith(f"the active signing key {remit.signing_keys.active().kid} was encrypted")
    finally:
        second.close()
    clock.advance(timedelta(seconds=1))
    create_app(settings, remit=remit)  # the right key starts
