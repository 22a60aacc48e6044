"""Signing keys: JWKs and thumbprints (RFC 7638, RFC 8037 vectors), JWS signatures checked with ``cryptography``
against the published JWK, the rotation rules, and the key service on SQLite and PostgreSQL: keys in the store,
private halves encrypted, rotation with overlap, several servers agreeing on one key."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select, update

from remit.admin.access import AdminPrincipal
from remit.audit.record import Masker
from remit.clock import FrozenClock
from remit.container import Remit
from remit.errors import Conflict, Forbidden, StoreError, ValidationError
from remit.paging import PageRequest
from remit.registry.ports import EventFilter
from remit.settings import Settings, load_settings
from remit.store.audit import AuditFilter
from remit.store.tables import SigningKeyRow
from remit.tokens.kek import KeyDecryptionError, KeyEncryptionKey
from remit.tokens.keys import (
    ALGORITHMS,
    CLOCK_LEEWAY,
    Alg,
    KeyStatus,
    RotationPolicy,
    VerificationKey,
    b64url,
    jwk_set,
    new_key,
    public_jwk,
    public_key_from_jwk,
    published,
    sign,
    sign_eddsa,
    thumbprint,
    unb64url,
)
from remit.tokens.keyservice import CACHE_SECONDS, SYSTEM_ACTOR, SigningKeyService

VECTORS = Path(__file__).parent.parent / "vectors"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALL = PageRequest(limit=100)
#: the defaults: tokens live at most an hour; a retired key verifies an hour and a minute longer
OVERLAP = timedelta(seconds=3600) + CLOCK_LEEWAY


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwk(jwk: dict[str, Any], payload: bytes, signature: bytes) -> None:
    """A verifier that knows only the published JWK and ``cryptography``: raises unless the signature is good."""
    assert "d" not in jwk
    if jwk["kty"] == "OKP":
        assert jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
        Ed25519PublicKey.from_public_bytes(b64decode(jwk["x"])).verify(signature, payload)
        return
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    x, y = (int.from_bytes(b64decode(jwk[c]), "big") for c in ("x", "y"))
    public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    assert len(signature) == 64  # JWS: raw r || s, not DER (RFC 7518 §3.4)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), payload, ec.ECDSA(hashes.SHA256()))


# -- JWKs, thumbprints, signatures (pure) ---------------------------------------------------------------------------


def test_rfc8037_vectors() -> None:
    """RFC 8037 Appendix A: the Ed25519 key's JWK, its RFC 7638 thumbprint, and the EdDSA JWS signature."""
    v = json.loads((VECTORS / "rfc8037" / "A-ed25519.json").read_text())
    private = Ed25519PrivateKey.from_private_bytes(unb64url(v["private_d"]))
    assert public_jwk(private.public_key()) == v["public_jwk"]
    assert thumbprint(v["public_jwk"]) == v["thumbprint"]
    signing_input = f"{v['protected']}.{v['payload']}".encode()
    assert b64url(sign_eddsa(private, signing_input)) == v["signature"]  # Ed25519 is deterministic
    alg, public = public_key_from_jwk({**v["public_jwk"], "kid": v["thumbprint"]})
    assert alg == "EdDSA" and public_jwk(public) == v["public_jwk"]


def test_ec_thumbprint_is_rfc7638() -> None:
    """RFC 7638 §3.2: the required members (crv, kty, x, y) in lexicographic order, no whitespace, SHA-256."""
    key = new_key("ES256", T0).public
    jwk = key.jwk
    by_hand = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    assert key.kid == b64url(hashlib.sha256(by_hand.encode()).digest())
    assert thumbprint({**jwk, "use": "sig", "extra": "ignored"}) == key.kid  # only the required members count
    assert len(b64decode(jwk["x"])) == len(b64decode(jwk["y"])) == 32  # coordinates padded to the curve size


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_signatures_verify_against_the_published_jwk(alg: Alg) -> None:
    key = new_key(alg, T0)
    payload = b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ"
    signature = key.sign(payload)
    verify_with_jwk(key.public.jwk, payload, signature)
    assert key.public.verify(payload, signature)
    assert not key.public.verify(payload + b"x", signature)
    assert not key.public.verify(payload, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert sign(key.private, payload) != b"" and key.public.jwk["alg"] == alg


def test_es256_signature_is_raw_r_s_not_der() -> None:
    key = new_key("ES256", T0)
    for _ in range(20):  # DER length varies with leading zeros; the JWS form never does
        assert len(key.sign(b"x")) == 64
    assert not key.public.verify(b"x", b"\x30" + bytes(63))


def test_jwk_has_no_private_member_and_repr_hides_the_key() -> None:
    for alg in ALGORITHMS:
        key = new_key(alg, T0)
        jwk = key.public.jwk
        assert set(jwk) == ({"kty", "crv", "x", "kid", "alg", "use"} | ({"y"} if alg == "ES256" else set()))
        assert jwk["use"] == "sig" and jwk["kid"] == key.kid == thumbprint(jwk)
        der = key.private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        shown = repr(key) + str(key) + repr(key.public)
        assert repr(key) == f"SigningKey(kid={key.kid!r}, alg={alg!r})"
        assert der.hex() not in shown and b64url(der[-32:]) not in shown


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d": "AAAA"}, "a public JWK must not hold a private member"),
        ({"crv": "X25519"}, "unsupported key: kty='OKP' crv='X25519'"),
        ({"kty": "RSA"}, "unsupported key: kty='RSA' crv='Ed25519'"),
        ({"alg": "ES256"}, "alg 'ES256' does not fit a Ed25519 key"),
        ({"kid": "not-the-thumbprint"}, "kid is not the key's RFC 7638 thumbprint"),
        ({"x": "AAAA"}, "An Ed25519 public key is 32 bytes long"),
        ({"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, "not base64url"),
    ],
    ids=["private", "curve", "kty", "alg", "kid", "short", "padded"],
)
def test_public_jwk_import_refuses(change: dict[str, str], message: str) -> None:
    good = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        public_key_from_jwk({**good, **change})


def test_ec_point_off_the_curve_is_refused() -> None:
    jwk = new_key("ES256", T0).public.jwk
    y = int.from_bytes(b64decode(jwk["y"]), "big") ^ 1
    off = {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": b64url(y.to_bytes(32, "big"))}
    with pytest.raises(ValueError, match=r"not on the curve|Invalid EC key"):
        public_key_from_jwk(off)


# -- rotation rules (pure) ------------------------------------------------------------------------------------------

POLICY = RotationPolicy(rotate_after=timedelta(days=30), max_token_lifetime=timedelta(hours=1))


def test_retirement_keeps_verifying_until_the_last_token_expired() -> None:
    key = new_key("EdDSA", T0).public
    retired = POLICY.retire(key, T0 + timedelta(days=2))
    assert retired.status is KeyStatus.RETIRED
    assert retired.retired_at == T0 + timedelta(days=2)
    assert retired.verify_until == T0 + timedelta(days=2, hours=1, seconds=60)
    assert retired.verifies_at(retired.verify_until - timedelta(microseconds=1))
    assert not retired.verifies_at(retired.verify_until)
    assert retired.state_at(retired.verify_until) is KeyStatus.EXPIRED
    revoked = POLICY.retire(key, T0 + timedelta(days=2), revoke=True)
    assert revoked.verify_until == revoked.retired_at and not revoked.verifies_at(T0 + timedelta(days=2))
    with pytest.raises(ValueError, match="is not active"):
        POLICY.retire(retired, T0)


def test_due_after_the_rotation_period() -> None:
    key = new_key("EdDSA", T0).public
    assert not POLICY.due(key, T0 + timedelta(days=30) - timedelta(seconds=1))
    assert POLICY.due(key, T0 + timedelta(days=30))


def test_published_keys_active_first_then_newest() -> None:
    old = POLICY.retire(new_key("EdDSA", T0).public, T0 + timedelta(minutes=1))
    newer = POLICY.retire(new_key("ES256", T0 + timedelta(minutes=1)).public, T0 + timedelta(minutes=2))
    active = new_key("EdDSA", T0 + timedelta(minutes=2)).public
    gone = POLICY.retire(new_key("EdDSA", T0 - timedelta(days=9)).public, T0 - timedelta(days=1))
    now = T0 + timedelta(minutes=3)
    assert published([old, gone, newer, active], now) == (active, newer, old)
    assert jwk_set([old, active], now) == {"keys": [active.jwk, old.jwk]}
    assert published([old, newer, active], now + OVERLAP) == (active,)


# -- the key service, on both databases -----------------------------------------------------------------------------


def key_rows(remit: Remit) -> list[SigningKeyRow]:
    with remit.store.transaction(readonly=True) as tx:
        return list(tx.s.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at)))


def events(remit: Remit, admin: AdminPrincipal) -> list[tuple[str, str, str]]:
    page = remit.registry.list_events(admin, EventFilter(target_type="signing_key"), ALL)
    return [(e.action, e.target_id, e.actor) for e in reversed(page.items)]


def test_first_key_is_made_when_first_needed(remit: Remit, admin: AdminPrincipal) -> None:
    keys = remit.signing_keys
    assert keys.prepare() is None  # a fresh estate: nothing made at start
    assert key_rows(remit) == [] and events(remit, admin) == []
    jwks = keys.jwks()
    assert len(jwks["keys"]) == 1
    active = keys.active()
    assert jwks["keys"][0] == active.public.jwk and active.alg == "EdDSA"
    assert [k.kid for k in keys.verification_keys()] == [active.kid]
    assert keys.active() is active  # cached: decrypted once
    assert events(remit, admin) == [("signing_key.create", active.kid, SYSTEM_ACTOR)]
    assert keys.prepare() == active.public  # a second start finds it


def test_private_half_is_encrypted_at_rest(remit: Remit) -> None:
    active = remit.signing_keys.active()
    [row] = key_rows(remit)
    assert row.private_enc is not None and row.private_enc.startswith("v1.")
    raw = active.private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    der = active.private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stored = b64decode(row.private_enc[3:])
    for secret in (raw, der):
        assert secret not in stored
        assert secret.hex() not in row.private_enc and b64url(secret) not in row.private_enc
    assert "d" not in row.public_jwk
    kek = KeyEncryptionKey.from_settings(remit.settings)
    assert row.kek_id == kek.id
    assert kek.decrypt(row.private_enc, context=f"signing key {row.kid}") == der


def test_events_and_audit_records_hold_public_parts_only(remit: Remit, admin: AdminPrincipal) -> None:
    first = remit.signing_keys.active()
    rotation = remit.signing_keys.rotate(admin, reason="quarterly")
    assert events(remit, admin) == [
        ("signing_key.create", first.kid, SYSTEM_ACTOR),
        ("signing_key.retire", first.kid, "test:admin"),
        ("signing_key.create", rotation.active.kid, "test:admin"),
    ]
    retire = remit.registry.list_events(admin, EventFilter(action="signing_key.retire"), ALL).items[0]
    assert retire.reason == "quarterly"
    assert retire.before is not None and retire.before["status"] == "active"
    assert retire.after is not None and retire.after["status"] == "retired"
    assert retire.after["verify_until"] == (retire.at + OVERLAP).isoformat()
    assert retire.after["jwk"] == {**first.public.jwk}
    records = remit.audit.query(admin, AuditFilter(resource=f"signing_key::{first.kid}"), ALL).items
    assert [r["action"] for r in records] == ["signing_key.retire", "signing_key.create"]
    assert all("masked" not in r for r in records)  # nothing in them looked like a secret
    der = first.private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    text = json.dumps(records)
    assert "private_enc" not in text and b64url(der) not in text and b64url(der[-32:]) not in text
    assert Masker().mask({"after": retire.after})["after"] == retire.after


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_service_signatures_verify_against_the_jwks(tmp_path: Path, database_url: str, alg: Alg) -> None:
    settings = load_settings(home=tmp_path, database_url=database_url, tokens={"signing_alg": alg})
    with wired(settings, FrozenClock()) as remit:
        key = remit.signing_keys.active()
        [jwk] = remit.signing_keys.jwks()["keys"]
        payload = b"header.claims"
        verify_with_jwk(jwk, payload, key.sign(payload))
        assert jwk["kid"] == key.kid and jwk["alg"] == alg


def test_rotation_overlap(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    keys = remit.signing_keys
    old = keys.active()
    clock.advance(timedelta(days=3))
    rotation = keys.rotate(admin)
    assert rotation.retired is not None and rotation.retired.kid == old.kid
    assert rotation.retired.verify_until == clock.now() + OVERLAP
    assert keys.active().kid == rotation.active.kid != old.kid
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.active.kid, old.kid]
    assert keys.find(old.kid) == rotation.retired
    # a token the old key signed just before its retirement still verifies until it has expired (plus leeway)
    clock.advance(OVERLAP - timedelta(seconds=1))
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.active.kid, old.kid]
    clock.advance(timedelta(seconds=1))
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.active.kid]
    assert [k.kid for k in keys.verification_keys()] == [rotation.active.kid]
    assert keys.find(old.kid) is None
    listed = keys.list(admin)
    assert [(k.kid, k.state_at(clock.now())) for k in listed] == [
        (rotation.active.kid, KeyStatus.ACTIVE),
        (old.kid, KeyStatus.EXPIRED),
    ]
    # the retired key's private half was erased: it never signs again
    assert {r.kid: r.private_enc is None for r in key_rows(remit)} == {old.kid: True, rotation.active.kid: False}


def test_revoking_the_previous_key(remit: Remit, admin: AdminPrincipal) -> None:
    old = remit.signing_keys.active()
    rotation = remit.signing_keys.rotate(admin, reason="key leaked", revoke_previous=True)
    assert rotation.retired is not None and rotation.retired.state_at(remit.clock.now()) is KeyStatus.EXPIRED
    assert [k["kid"] for k in remit.signing_keys.jwks()["keys"]] == [rotation.active.kid]
    assert remit.signing_keys.find(old.kid) is None
    retire = remit.registry.list_events(admin, EventFilter(action="signing_key.retire"), ALL).items[0]
    assert (retire.reason, retire.extra) == ("key leaked", {"revoked": True})


def test_rotate_without_a_key_makes_the_first(remit: Remit, admin: AdminPrincipal) -> None:
    rotation = remit.signing_keys.rotate(admin)
    assert rotation.retired is None
    assert remit.signing_keys.active().kid == rotation.active.kid


def test_automatic_rotation(remit: Remit, admin: AdminPrincipal, clock: FrozenClock) -> None:
    keys = remit.signing_keys
    first = keys.active()
    clock.advance(timedelta(days=30) - timedelta(seconds=1))
    assert keys.active() is first
    clock.advance(timedelta(seconds=1))
    second = keys.active()
    assert second.kid != first.kid
    assert keys.find(first.kid) is not None  # still verifying what it signed
    retire = remit.registry.list_events(admin, EventFilter(action="signing_key.retire"), ALL).items[0]
    assert (retire.actor, retire.reason) == (SYSTEM_ACTOR, "automatic: the key is 30 days old")
    assert keys.active() is second  # rotated once


def test_rotation_is_an_admins(remit: Remit, auditor: AdminPrincipal, make_owner: Callable[[str], Any]) -> None:
    remit.signing_keys.active()
    for who in (auditor, make_owner("alice")):
        with pytest.raises(Forbidden) as info:
            remit.signing_keys.rotate(who)
        assert (info.value.code, info.value.message) == ("forbidden", f"role {who.role.value} may not key.rotate")
    assert len(remit.signing_keys.list(auditor)) == 1  # auditors read
    with pytest.raises(Forbidden):
        remit.signing_keys.list(make_owner("alice"))
    assert len(key_rows(remit)) == 1


def test_rotation_reason_is_checked(remit: Remit, admin: AdminPrincipal) -> None:
    with pytest.raises(ValidationError) as info:
        remit.signing_keys.rotate(admin, reason="bad\x00reason")
    assert (info.value.code, info.value.field) == ("invalid_request", "reason")


def test_algorithm_change_applies_at_the_next_start(
    remit: Remit, settings: Settings, clock: FrozenClock, admin: AdminPrincipal
) -> None:
    eddsa = remit.signing_keys.active()
    changed = settings.model_copy(update={"tokens": settings.tokens.model_copy(update={"signing_alg": "ES256"})})
    with wired(changed, clock) as restarted:
        started = restarted.signing_keys.prepare()
        assert started is not None and started.alg == "ES256"
        assert [k["alg"] for k in restarted.signing_keys.jwks()["keys"]] == ["ES256", "EdDSA"]
        assert restarted.signing_keys.find(eddsa.kid) is not None
        assert restarted.signing_keys.prepare() == started  # once


# -- several servers on one store ----------------------------------------------------------------------------------


@pytest.fixture
def wired_factory(settings: Settings, clock: FrozenClock) -> Iterator[Callable[..., Remit]]:
    """``second()``: another container on the same store and home, as a second server is."""
    made: list[Remit] = []

    def make(s: Settings | None = None) -> Remit:
        remit = Remit.from_settings(s or settings, clock=clock, migrate_schema=False)
        made.append(remit)
        return remit

    yield make
    for remit in made:
        remit.close()


class wired:
    """A container closed at the end of the block."""

    def __init__(self, settings: Settings, clock: FrozenClock) -> None:
        self.remit = Remit.from_settings(settings, clock=clock)

    def __enter__(self) -> Remit:
        return self.remit

    def __exit__(self, *_: object) -> None:
        self.remit.close()


def test_two_servers_agree_after_a_rotation(
    remit: Remit, wired_factory: Callable[..., Remit], admin: AdminPrincipal, clock: FrozenClock
) -> None:
    a, b = remit.signing_keys, wired_factory().signing_keys
    assert a.active().kid == b.active().kid  # the same key, made once
    rotation = a.rotate(admin)
    # a token signed by a's new key verifies on b at once: an unknown kid makes b look at the store
    assert b.find(rotation.active.kid) == rotation.active
    assert b.active().kid == rotation.active.kid  # and b signs with it from now on (it reloaded)
    assert [k["kid"] for k in a.jwks()["keys"]] == [k["kid"] for k in b.jwks()["keys"]]


def test_a_server_without_a_poller_follows_within_its_cache_time(
    remit: Remit, wired_factory: Callable[..., Remit], admin: AdminPrincipal, clock: FrozenClock
) -> None:
    a, b = remit.signing_keys, wired_factory().signing_keys
    first = b.active()
    rotation = a.rotate(admin)
    assert b.active().kid == first.kid  # cached
    clock.advance(timedelta(seconds=CACHE_SECONDS))
    assert b.active().kid == rotation.active.kid


def test_a_server_with_a_poller_follows_the_change_counter(
    remit: Remit, wired_factory: Callable[..., Remit], admin: AdminPrincipal
) -> None:
    other = wired_factory()
    a, b = remit.signing_keys, other.signing_keys
    b.active()
    other.refresher.start()
    try:
        rotation = a.rotate(admin)
        deadline = time.monotonic() + 10  # the frozen clock never expires b's cache: only the counter can
        while b.active().kid != rotation.active.kid:
            assert time.monotonic() < deadline, "the other server did not pick up the rotation"
            time.sleep(0.02)
    finally:
        other.refresher.stop()


def test_servers_starting_together_make_one_key(remit: Remit, wired_factory: Callable[..., Remit]) -> None:
    services = [remit.signing_keys] + [wired_factory().signing_keys for _ in range(3)]
    start = threading.Barrier(len(services) * 2)
    kids: list[str] = []
    errors: list[BaseException] = []

    def run(service: SigningKeyService) -> None:
        try:
            start.wait()
            kids.append(service.ensure_active().kid)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in services for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(kids) == len(threads) and len(set(kids)) == 1
    assert [r.status for r in key_rows(remit)] == ["active"]


def test_a_due_key_is_rotated_once_by_servers_together(
    remit: Remit, wired_factory: Callable[..., Remit], clock: FrozenClock, admin: AdminPrincipal
) -> None:
    first = remit.signing_keys.active()
    others = [wired_factory().signing_keys for _ in range(3)]
    clock.advance(timedelta(days=31))
    kids = {s.active().kid for s in [remit.signing_keys, *others]}
    assert len(kids) == 1 and first.kid not in kids
    assert sorted(r.status for r in key_rows(remit)) == ["active", "retired"]


def test_the_store_refuses_a_second_active_key(remit: Remit) -> None:
    remit.signing_keys.active()
    intruder = new_key("EdDSA", remit.clock.now()).public
    with pytest.raises(Conflict) as info, remit.store.transaction() as tx:
        tx.s.add(
            SigningKeyRow(
                kid=intruder.kid,
                alg=intruder.alg,
                status="active",
                public_jwk=intruder.jwk,
                private_enc="v1.x",
                kek_id="x",
                created_at=intruder.created_at,
            )
        )
        tx.s.flush()
    assert info.value.code == "conflict"


# -- another key-encryption key, damaged rows --------------------------------------------------------------------


def test_another_kek_cannot_open_the_key(remit: Remit, settings: Settings, wired_factory: Callable[..., Remit]) -> None:
    active = remit.signing_keys.active()
    mine = KeyEncryptionKey.from_settings(settings)
    other_kek = base64.urlsafe_b64encode(bytes(32)).decode()
    other = wired_factory(settings.model_copy(update={"key_encryption_key": _secret(other_kek)}))
    theirs = KeyEncryptionKey.from_text(other_kek, source="x")
    assert [k["kid"] for k in other.signing_keys.jwks()["keys"]] == [active.kid]  # public parts need no KEK
    for attempt in (other.signing_keys.active, other.signing_keys.prepare):
        with pytest.raises(KeyDecryptionError) as info:
            attempt()
        assert info.value.code == "key_decryption_failed"
        assert info.value.message == (
            f"the active signing key {active.kid} was encrypted with the key-encryption key {mine.id}, but this "
            f"server has {theirs.id} (from REMIT_KEY_ENCRYPTION_KEY (key_encryption_key)): give every server the "
            "same REMIT_KEY_ENCRYPTION_KEY or tokens.kek_file"
        )
        assert other_kek not in info.value.message


def test_another_kek_with_the_same_id_column_still_fails_cleanly(
    remit: Remit, settings: Settings, wired_factory: Callable[..., Remit]
) -> None:
    """A row whose kek_id was lost (or forged) is still refused by the AEAD itself."""
    active = remit.signing_keys.active()
    other_kek = base64.urlsafe_b64encode(bytes(32)).decode()
    with remit.store.transaction() as tx:
        tx.s.execute(update(SigningKeyRow).where(SigningKeyRow.kid == active.kid).values(kek_id=None))
    other = wired_factory(settings.model_copy(update={"key_encryption_key": _secret(other_kek)}))
    with pytest.raises(KeyDecryptionError) as info:
        other.signing_keys.active()
    assert info.value.message.startswith(f"signing key {active.kid} cannot be decrypted with the key-encryption key")


def test_a_damaged_key_row_is_a_store_error(remit: Remit, wired_factory: Callable[..., Remit]) -> None:
    active = remit.signing_keys.active()
    with remit.store.transaction() as tx:
        jwk = {**active.public.jwk, "x": b64url(bytes(32))}  # another key under the same kid
        tx.s.execute(update(SigningKeyRow).where(SigningKeyRow.kid == active.kid).values(public_jwk=jwk))
    with pytest.raises(StoreError) as info:
        wired_factory().signing_keys.jwks()
    assert info.value.code == "store_unavailable"
    assert (
        info.value.message
        == f"the stored signing key {active.kid!r} is damaged (kid is not the key's RFC 7638 thumbprint)"
    )


def test_a_swapped_private_half_is_refused(
    remit: Remit, admin: AdminPrincipal, wired_factory: Callable[..., Remit]
) -> None:
    """The sealed value is bound to its kid (associated data): copied onto another row, it does not open."""
    old = remit.signing_keys.active()
    sealed = key_rows(remit)[0].private_enc
    rotation = remit.signing_keys.rotate(admin)
    with remit.store.transaction() as tx:
        tx.s.execute(update(SigningKeyRow).where(SigningKeyRow.kid == rotation.active.kid).values(private_enc=sealed))
    with pytest.raises(KeyDecryptionError, match=f"signing key {rotation.active.kid} cannot be decrypted"):
        wired_factory().signing_keys.active()
    assert old.kid != rotation.active.kid


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def test_verification_key_round_trips_through_its_jwk() -> None:
    key = new_key("ES256", T0).public
    again = VerificationKey.from_jwk(key.jwk, status=key.status, created_at=key.created_at)
    assert again.kid == key.kid and again.jwk == key.jwk


def test_changing_the_kek_by_rotating(
    remit: Remit, settings: Settings, wired_factory: Callable[..., Remit], admin: AdminPrincipal, clock: FrozenClock
) -> None:
    """The documented way to a new key-encryption key: rotate with it (the old private half is erased, never
    decrypted), then move every server to it. Servers still on the old one cannot sign, and say why."""
    old = remit.signing_keys.active()
    new_kek = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()
    moved = wired_factory(settings.model_copy(update={"key_encryption_key": _secret(new_kek)}))
    rotation = moved.signing_keys.rotate(admin, reason="new key-encryption key")
    assert moved.signing_keys.active().kid == rotation.active.kid
    assert moved.signing_keys.find(old.kid) is not None  # the old key still verifies what it signed
    assert {r.kid: r.kek_id for r in key_rows(remit)} == {
        old.kid: KeyEncryptionKey.from_settings(settings).id,
        rotation.active.kid: KeyEncryptionKey.from_text(new_kek, source="x").id,
    }
    clock.advance(timedelta(seconds=CACHE_SECONDS))  # the old server notices the new key
    with pytest.raises(KeyDecryptionError, match="give every server the same REMIT_KEY_ENCRYPTION_KEY"):
        remit.signing_keys.active()
