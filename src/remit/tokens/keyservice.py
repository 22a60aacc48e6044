"""The signing key service: the one active key every server signs with, the keys that verify, the JWKS, rotation.

Keys live in the store, so every server of one PostgreSQL store signs with the same active key and publishes the
same JWKS. Each process keeps them in memory:

* the cache is reloaded when the store's change counter moves (``revision``: what the policy refresher last read;
  every key change moves it), after this process wrote to the store, and, when no poller reports the counter, every
  ``cache_seconds``;
* a ``kid`` the cache does not know makes ``find`` read the counter at once: a key that another server made a
  moment ago verifies here before the next poll;
* only the active key's private half is ever decrypted, in memory, when it is first needed to sign. Nothing here
  logs key material.

A process whose cache lags (at most ``cache_seconds``, or one poll) may sign with a key another server has just
retired; that key verifies for ``max_access_token_seconds`` plus a minute of leeway after its retirement, so such a
token still verifies everywhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import StoreError
from remit.ids import new_id
from remit.registry.models import check_text
from remit.store.keys import KeyStore, KeyTx, StoredKey
from remit.tokens.kek import ENV_VAR, KeyDecryptionError, KeyEncryptionKey
from remit.tokens.keys import (
    Alg,
    KeyStatus,
    PrivateKey,
    RotationPolicy,
    SigningKey,
    VerificationKey,
    jwk_set,
    new_key,
    private_der,
    private_from_der,
    published,
)

if TYPE_CHECKING:
    from remit.settings import Settings
    from remit.store.repository import SqlStore

log = logging.getLogger(__name__)

#: who the audit trail names for changes Remit makes by itself
SYSTEM_ACTOR = "remit:signing-keys"
#: how long the cache serves when no poller reports the change counter (well under the retirement leeway)
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Rotation:
    """The outcome of a rotation: the new active key and the one it replaced (None if there was none)."""

    active: VerificationKey
    retired: VerificationKey | None


@dataclass(frozen=True, slots=True)
class _Cache:
    keys: tuple[VerificationKey, ...]  #: the active key and the retired ones verifying when loaded
    kids: frozenset[str]  #: their ``kid`` values
    active: StoredKey | None
    revision: int  #: the store's change counter in the loading transaction
    writes: int  #: this process's write count before loading
    loaded_at: datetime


class SigningKeyService:
    """Signing keys for one process, over the shared store."""

    def __init__(
        self,
        store: KeyStore,
        clock: Clock,
        kek: Callable[[], KeyEncryptionKey],
        *,
        policy: RotationPolicy,
        alg: Alg = "EdDSA",
        revision: Callable[[], int | None] | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        """``kek`` gives the key-encryption key when first needed (the default file is created on first use);
        ``revision`` reports the store's change counter as a poller last read it, or None when it cannot say."""
        self._store = store
        self._clock = clock
        self._kek = kek
        self._policy = policy
        self._alg: Alg = alg
        self._revision = revision or _unknown
        self._cache_seconds = cache_seconds
        self._cache: _Cache | None = None
        self._opened: SigningKey | None = None  #: the last private key decrypted (or made) here
        self._lock = threading.RLock()

    @classmethod
    def from_settings(
        cls, settings: Settings, store: SqlStore, clock: Clock, *, revision: Callable[[], int | None] | None = None
    ) -> SigningKeyService:
        t = settings.tokens
        return cls(
            KeyStore(store),
            clock,
            _Once(lambda: KeyEncryptionKey.from_settings(settings)),
            policy=RotationPolicy(
                rotate_after=timedelta(days=t.key_rotation_days),
                max_token_lifetime=timedelta(seconds=t.max_access_token_seconds),
            ),
            alg=t.signing_alg,
            revision=revision,
        )

    @property
    def policy(self) -> RotationPolicy:
        return self._policy

    # -- signing and verifying --------------------------------------------------------------------------------------

    def active(self) -> SigningKey:
        """The key to sign with now: made if there is none yet, rotated first if it is due."""
        now = self._clock.now()
        cache = self._current(now)
        if cache.active is None or self._policy.due(cache.active.key, now):
            return self.ensure_active()
        return self._signing(cache.active)

    def verification_keys(self) -> tuple[VerificationKey, ...]:
        """The keys whose signatures are accepted now: the active one first, then retired ones newest first."""
        now = self._clock.now()
        return published(self._current(now).keys, now)

    def find(self, kid: str) -> VerificationKey | None:
        """The key named ``kid`` if it verifies now. A ``kid`` unknown here costs one read of the change counter
        (and a reload if it moved), so that a key made by another server a moment ago is found at once."""
        now = self._clock.now()
        cache = self._current(now)
        found = _named(cache, kid)
        if found is None:
            with self._store.reading() as tx:
                moved = tx.revision() != cache.revision
            if moved:
                found = _named(self._load(now), kid)
        return found if found is not None and found.verifies_at(now) else None

    def generation(self) -> frozenset[str]:
        """The ``kid`` values of the keys that verify, as last loaded: changes when a key is made, or revoked
        (``VerifiedCache`` empties itself then). A key whose ``verify_until`` merely passes stays in until the next
        reload: every token it signed has expired by then."""
        return self._current(self._clock.now()).kids

    def jwks(self) -> dict[str, Any]:
        """The JWK Set of the keys that verify now (RFC 7517 §5); never a private member. Makes the first key if
        there is none, so that the set holds the key of the next token before it is signed."""
        now = self._clock.now()
        cache = self._current(now)
        if cache.active is None or self._policy.due(cache.active.key, now):
            self.ensure_active()
            cache = self._current(now)
        return jwk_set(cache.keys, now)

    # -- the life cycle ---------------------------------------------------------------------------------------------

    def prepare(self) -> VerificationKey | None:
        """At server start: load the key-encryption key (a bad one fails the start, not a request), rotate the
        active key if it is due or of another algorithm than ``tokens.signing_alg``, and check that the
        key-encryption key opens it. Makes no first key: that happens when one is first needed."""
        self._kek()
        now = self._clock.now()
        with self._store.reading() as tx:
            stored = tx.active()
        if stored is None:
            return None
        if self._policy.due(stored.key, now) or stored.key.alg != self._alg:
            self.ensure_active(switch_alg=True)
        cache = self._load(now)
        if cache.active is None:  # pragma: no cover - another server retired it without a successor
            return None
        return self._signing(cache.active).public

    def ensure_active(self, *, switch_alg: bool = False) -> SigningKey:
        """The active key, made first if there is none and rotated first if it is due (or, with ``switch_alg``, of
        another algorithm than configured). Runs under the key-change lock: servers starting or rotating together
        agree on one key, and a due key is rotated once."""
        now = self._clock.now()
        with self._lock:
            with self._store.changing() as tx:
                stored = tx.active()
                if stored is None:
                    self._create(tx, now, SYSTEM_ACTOR, "the first signing key")
                elif self._policy.due(stored.key, now):
                    days = self._policy.rotate_after.days
                    self._rotate(tx, stored.key, now, SYSTEM_ACTOR, f"automatic: the key is {days} days old")
                elif switch_alg and stored.key.alg != self._alg:
                    self._rotate(tx, stored.key, now, SYSTEM_ACTOR, f"tokens.signing_alg is now {self._alg}")
            cache = self._load(now)
            if cache.active is None:
                raise StoreError("no active signing key after making one")
            return self._signing(cache.active)

    def rotate(self, p: AdminPrincipal, *, reason: str = "", revoke_previous: bool = False) -> Rotation:
        """Make a new active key; the old one retires and verifies until ``verify_until``, or, with
        ``revoke_previous`` (a compromised key), not at all from now on."""
        authorize(p, Act.KEY_ROTATE)
        check_text(reason, "reason", 500)
        now = self._clock.now()
        with self._lock:
            with self._store.changing() as tx:
                stored = tx.active()
                if stored is None:
                    made = self._create(tx, now, p.actor, reason)
                    rotation = Rotation(active=made.public, retired=None)
                else:
                    rotation = self._rotate(tx, stored.key, now, p.actor, reason, revoke=revoke_previous)
            self._load(now)
        log.info("signing key rotated by %s: %s is active", p.actor, rotation.active.kid)
        return rotation

    def list(self, p: AdminPrincipal) -> tuple[VerificationKey, ...]:
        """Every key ever made, newest first, public halves only."""
        authorize(p, Act.KEY_READ)
        with self._store.reading() as tx:
            return tuple(s.key for s in tx.all())

    # -- inside ----------------------------------------------------------------------------------------------------

    def _current(self, now: datetime) -> _Cache:
        cache = self._cache
        if cache is not None and self._fresh(cache, now):
            return cache
        with self._lock:
            cache = self._cache  # another thread may have reloaded while this one waited
            if cache is not None and self._fresh(cache, now):
                return cache
            return self._load(now)

    def _fresh(self, cache: _Cache, now: datetime) -> bool:
        if cache.writes != self._store.local_writes():
            return False
        seen = self._revision()
        if seen is not None:
            return seen <= cache.revision
        return (now - cache.loaded_at).total_seconds() < self._cache_seconds

    def _load(self, now: datetime) -> _Cache:
        with self._lock:
            writes = self._store.local_writes()
            with self._store.reading() as tx:
                revision = tx.revision()
                stored = tx.verifying(now)
            active = next((s for s in stored if s.key.status is KeyStatus.ACTIVE), None)
            keys = tuple(s.key for s in stored)
            cache = _Cache(keys, frozenset(k.kid for k in keys), active, revision, writes, now)
            self._cache = cache
            return cache

    def _signing(self, stored: StoredKey) -> SigningKey:
        """The private half of the active key: decrypted once, kept in memory."""
        opened = self._opened
        if opened is not None and opened.kid == stored.key.kid:
            return opened
        with self._lock:
            opened = SigningKey(public=stored.key, private=self._decrypt(stored))
            self._opened = opened
            return opened

    def _decrypt(self, stored: StoredKey) -> PrivateKey:
        kid = stored.key.kid
        if stored.private_enc is None:
            raise StoreError(f"the active signing key {kid} has no private half in the store")
        kek = self._kek()
        if stored.kek_id is not None and stored.kek_id != kek.id:
            raise KeyDecryptionError(
                f"the active signing key {kid} was encrypted with the key-encryption key {stored.kek_id}, but this "
                f"server has {kek.id} (from {kek.source}): give every server the same {ENV_VAR} or tokens.kek_file"
            )
        der = kek.decrypt(stored.private_enc, context=_context(kid))
        try:
            return private_from_der(der, stored.key.public)
        except ValueError:
            raise KeyDecryptionError(
                f"the stored private half of signing key {kid} does not fit its public key"
            ) from None

    def _create(self, tx: KeyTx, now: datetime, actor: str, reason: str) -> SigningKey:
        key = new_key(self._alg, now)
        kek = self._kek()
        sealed = kek.encrypt(private_der(key.private), context=_context(key.kid))
        tx.insert(key.public, private_enc=sealed, kek_id=kek.id)
        tx.add_event(_event(now, actor, "signing_key.create", key.public, None, reason))
        self._opened = key
        log.info("signing key %s (%s) made by %s", key.kid, key.alg, actor)
        return key

    def _rotate(
        self, tx: KeyTx, old: VerificationKey, now: datetime, actor: str, reason: str, *, revoke: bool = False
    ) -> Rotation:
        retired = self._policy.retire(old, now, revoke=revoke)
        tx.retire(retired)  # first: at most one active row at any moment, even inside this transaction
        extra = {"revoked": True} if revoke else {}
        tx.add_event(_event(now, actor, "signing_key.retire", retired, old, reason, extra))
        made = self._create(tx, now, actor, reason)
        return Rotation(active=made.public, retired=retired)


class _Once:
    """Calls ``factory`` once, on first use, and keeps what it returned (a failure is retried next time)."""

    def __init__(self, factory: Callable[[], KeyEncryptionKey]) -> None:
        self._factory = factory
        self._value: KeyEncryptionKey | None = None
        self._lock = threading.Lock()

    def __call__(self) -> KeyEncryptionKey:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._factory()
        return value


def _unknown() -> int | None:
    return None


def _named(cache: _Cache, kid: str) -> VerificationKey | None:
    return next((k for k in cache.keys if k.kid == kid), None)


def _context(kid: str) -> str:
    """The associated data of a sealed private key: binds it to its row."""
    return f"signing key {kid}"


def public_view(key: VerificationKey) -> dict[str, Any]:
    """What an event (and the API) may say about a key: its public half and life cycle."""
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": key.status.value,
        "jwk": key.jwk,
        "created_at": key.created_at.isoformat(),
        "activated_at": key.activated_at.isoformat() if key.activated_at else None,
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
        "verify_until": key.verify_until.isoformat() if key.verify_until else None,
    }


def _event(
    now: datetime,
    actor: str,
    action: str,
    key: VerificationKey,
    before: VerificationKey | None,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> ChangeEvent:
    return ChangeEvent(
        id=new_id("evt"),
        at=now,
        actor=actor,
        action=action,
        target_type="signing_key",
        target_id=key.kid,
        before=public_view(before) if before is not None else None,
        after=public_view(key),
        reason=reason,
        extra=extra or {},
    )
