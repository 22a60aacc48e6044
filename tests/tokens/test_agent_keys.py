"""Agent keys for private_key_jwt against the real store: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from remit.admin.access import AdminPrincipal
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, NotFound
from remit.paging import PageRequest
from remit.registry import AgentAction
from remit.registry.ports import EventFilter
from remit.tokens import jose
from remit.tokens.agentkeys import MAX_ACTIVE_KEYS
from remit.tokens.errors import InvalidKey
from tests.conftest import OwnerFactory
from tests.tokens.conftest import raised


def public_jwk(alg: str = "EdDSA") -> dict[str, Any]:
    return jose.SigningKey.generate(alg).public_key.to_jwk()


def p384_jwk() -> dict[str, Any]:
    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return jose.PublicKey.from_pem(pem).to_jwk()


@pytest.mark.usefixtures("agents")
def test_add_list_revoke(remit: Remit, admin: AdminPrincipal, clock: FrozenClock, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    jwk = public_jwk()
    key = remit.agent_keys.add(alice, "helpdesk", jwk)
    assert key.kid == jose.PublicKey.from_jwk(jwk).thumbprint
    assert (key.agent, key.alg, key.created_by, key.created_at, key.revoked_at) == (
        "helpdesk",
        "EdDSA",
        alice.actor,
        clock.now(),
        None,
    )
    assert key.jwk == {**{k: jwk[k] for k in ("kty", "crv", "x")}, "kid": key.kid, "alg": "EdDSA", "use": "sig"}
    clock.advance(timedelta(seconds=1))
    es = remit.agent_keys.add(admin, "helpdesk", public_jwk("ES256"))
    assert [k.kid for k in remit.agent_keys.list(alice, "helpdesk")] == [key.kid, es.kid]
    assert remit.agent_keys.usable("helpdesk", key.kid) is not None
    assert remit.agent_keys.usable("billing", key.kid) is None  # another agent's key

    clock.advance(timedelta(seconds=60))
    revoked = remit.agent_keys.revoke(alice, "helpdesk", key.kid)
    assert revoked.revoked_at == clock.now()
    assert remit.agent_keys.usable("helpdesk", key.kid) is None
    assert [k.revoked_at for k in remit.agent_keys.list(admin, "helpdesk")] == [clock.now(), None]
    again = raised(Conflict, lambda: remit.agent_keys.revoke(alice, "helpdesk", key.kid))
    assert again.message == f"the key {key.kid} is already revoked"

    where = EventFilter(target_type="agent", target_id="helpdesk")
    page = remit.registry.list_events(admin, where, PageRequest(limit=100))
    changes = [(e.action, e.actor, e.extra.get("kid")) for e in page.items if e.action.startswith("agent_key.")]
    assert changes == [
        ("agent_key.revoke", alice.actor, key.kid),
        ("agent_key.add", admin.actor, es.kid),
        ("agent_key.add", alice.actor, key.kid),
    ]


@pytest.mark.usefixtures("agents")
@pytest.mark.parametrize(
    ("jwk", "field", "message"),
    [
        ({**public_jwk(), "d": "AAAA"}, "jwk", "a private or symmetric key was given where a public key is expected"),
        (
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
            "jwk",
            "a private or symmetric key was given where a public key is expected",
        ),
        ({"kty": "oct", "alg": "HS256"}, "jwk", "symmetric (oct) keys are not accepted"),
        (p384_jwk(), "jwk", "agent keys use one of ES256, EdDSA, PS256, RS256; this key is ES384"),
        ({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}, "jwk", "the key's curve (crv) is not supported"),
        ({**public_jwk(), "kid": "mine"}, "kid", "the JWK's kid must be its RFC 7638 thumbprint, or be left out"),
    ],
    ids=["private", "hs-secret", "oct", "p384", "secp256k1", "kid"],
)
def test_unusable_keys_are_refused(
    remit: Remit, admin: AdminPrincipal, jwk: dict[str, Any], field: str, message: str
) -> None:
    refused = raised(InvalidKey, lambda: remit.agent_keys.add(admin, "helpdesk", jwk))
    assert (refused.code, refused.field, refused.message) == ("invalid_key", field, message)
    assert remit.agent_keys.list(admin, "helpdesk") == ()


@pytest.mark.usefixtures("agents")
def test_duplicates_and_the_cap(remit: Remit, admin: AdminPrincipal) -> None:
    jwk = public_jwk()
    key = remit.agent_keys.add(admin, "helpdesk", jwk)
    for agent in ("helpdesk", "billing"):
        dup = raised(Conflict, partial(remit.agent_keys.add, admin, agent, {**jwk, "kid": key.kid}))
        assert (dup.field, dup.message) == ("jwk", f"the key {key.kid} is already registered")
    for _ in range(MAX_ACTIVE_KEYS - 1):
        remit.agent_keys.add(admin, "helpdesk", public_jwk())
    full = raised(Conflict, lambda: remit.agent_keys.add(admin, "helpdesk", public_jwk()))
    assert full.message == f"agent 'helpdesk' has {MAX_ACTIVE_KEYS} keys: revoke one first"
    remit.agent_keys.revoke(admin, "helpdesk", key.kid)
    remit.agent_keys.add(admin, "helpdesk", public_jwk())


@pytest.mark.usefixtures("agents")
def test_owners_see_only_their_own_agents_keys(remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    bobs = remit.agent_keys.add(admin, "billing", public_jwk())
    for call in (
        lambda: remit.agent_keys.add(alice, "billing", public_jwk()),
        lambda: remit.agent_keys.list(alice, "billing"),
        lambda: remit.agent_keys.revoke(alice, "billing", bobs.kid),
        lambda: remit.agent_keys.list(alice, "nobody"),
    ):
        hidden = raised(NotFound, call)
        assert hidden.message in ("no such agent 'billing'", "no such agent 'nobody'")
        assert hidden.field == "name"
    missing = raised(NotFound, lambda: remit.agent_keys.revoke(alice, "helpdesk", bobs.kid))
    assert (missing.field, missing.message) == ("kid", f"agent 'helpdesk' has no key {bobs.kid!r}")


@pytest.mark.usefixtures("agents")
def test_quarantined_and_retired_agents(remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory) -> None:
    alice = make_owner("alice")
    key = remit.agent_keys.add(alice, "helpdesk", public_jwk())
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.QUARANTINE, "leaked key")
    refused = raised(Forbidden, lambda: remit.agent_keys.add(alice, "helpdesk", public_jwk()))
    assert refused.message == "role owner may not agent_key.add"
    remit.agent_keys.revoke(alice, "helpdesk", key.kid)  # taking access away stays open to the owner
    remit.registry.change_agent_status(admin, "helpdesk", AgentAction.RETIRE, "done")
    retired = raised(Conflict, lambda: remit.agent_keys.add(admin, "helpdesk", public_jwk()))
    assert retired.message == "agent 'helpdesk' is retired and can no longer be changed"


def test_the_replay_guard_is_shared_and_prunes(remit: Remit, clock: FrozenClock) -> None:
    from remit.store.agentkeys import AgentKeyStore
    from remit.tokens.endpoint import MAX_JTI_CHARS, StoreReplayGuard

    guard = StoreReplayGuard(AgentKeyStore(remit.store), clock)
    other_server = StoreReplayGuard(AgentKeyStore(remit.store), clock)
    writes = remit.store.local_writes()
    until = clock.now().timestamp() + 60
    assert guard.first_use("helpdesk", "j1", until)
    assert not other_server.first_use("helpdesk", "j1", until)
    assert other_server.first_use("billing", "j1", until)  # per issuer
    long = "x" * (MAX_JTI_CHARS + 1)
    assert guard.first_use("helpdesk", long, until)
    assert not guard.first_use("helpdesk", long, until)
    assert remit.store.local_writes() == writes  # no cache of this process reloads for a jti
    for odd in ("nul\x00inside", "lone\ud800surrogate", "\u00e9t\u00e9"):  # stored as their hash, on every database
        assert guard.first_use("helpdesk", odd, until)
        assert not other_server.first_use("helpdesk", odd, until)
    clock.advance(timedelta(seconds=61))
    assert guard.first_use("helpdesk", "j1", clock.now().timestamp() + 60)  # expired entries are pruned


@pytest.mark.usefixtures("agents")
def test_owners_find_their_key_changes_in_the_audit_log(
    remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    from remit.store.audit import AuditFilter

    key = remit.agent_keys.add(admin, "helpdesk", public_jwk())
    remit.agent_keys.add(admin, "billing", public_jwk())
    seen = remit.audit.query(make_owner("alice"), AuditFilter(kind="change"), PageRequest(limit=50)).items
    mine = [(r["action"], r["extra"]["kid"]) for r in seen if r["action"].startswith("agent_key.")]
    assert mine == [("agent_key.add", key.kid)]
