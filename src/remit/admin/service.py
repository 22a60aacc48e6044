"""Admin token use cases: mint (shown once), authenticate, list, revoke."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from remit.admin.access import Act, AdminPrincipal, AdminRole, authorize
from remit.admin.tokens import AdminToken, digest, looks_like_token, mint_secret
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import AuthenticationError, NotFound, ValidationError
from remit.ids import new_id
from remit.paging import Page, PageRequest
from remit.registry.models import User, UserStatus, check_text
from remit.registry.ports import RegistryStore

CACHE_ENTRIES = 10_000


class AdminTokenService:
    def __init__(
        self,
        store: RegistryStore,
        clock: Clock,
        *,
        cache_seconds: float = 0.25,
        revision: Callable[[], int | None] | None = None,
    ) -> None:
        """``revision`` reports the store's change counter as a poller last saw it (None when it cannot say):
        cached answers then stay good until it moves, instead of for ``cache_seconds``."""
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._revision = revision or _unknown
        #: digest -> (principal, token expiry, when cached, the store's local write count then, revision then)
        self._cache: dict[str, tuple[AdminPrincipal, datetime | None, datetime, int, int | None]] = {}

    def create(
        self,
        p: AdminPrincipal,
        *,
        name: str,
        role: AdminRole,
        user_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[AdminToken, str]:
        """Mint a token; return it and its secret value, which is never stored or shown again."""
        authorize(p, Act.ADMIN_TOKEN_CREATE)
        return self._mint(p.actor, name=name, role=role, user_id=user_id, expires_at=expires_at)

    def bootstrap(self, actor: str, name: str = "bootstrap") -> tuple[AdminToken, str]:
        """The first admin token, for ``remit init`` (whoever can write REMIT_HOME is already an admin)."""
        return self._mint(actor, name=name, role=AdminRole.ADMIN, user_id=None, expires_at=None)

    def _mint(
        self, actor: str, *, name: str, role: AdminRole, user_id: str | None, expires_at: datetime | None
    ) -> tuple[AdminToken, str]:
        check_text(name, "name", 100)
        if not name.strip():
            raise ValidationError("a token needs a name saying what it is for", field="name")
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("expires_at must be in the future", field="expires_at")
        if role is AdminRole.OWNER and user_id is None:
            raise ValidationError("an owner token names the user it acts for", field="user_id")
        secret = mint_secret()
        token = AdminToken(
            id=new_id("tok"),
            name=name.strip(),
            role=role,
            user_id=user_id,
            digest=digest(secret),
            created_at=now,
            created_by=actor,
            expires_at=expires_at,
        )
        with self._store.transaction() as tx:
            if user_id is not None:
                active_user(tx, user_id, "user_id")
            tx.insert_admin_token(token)
            tx.add_event(_event(now, actor, "admin_token.create", token, None, _public(token)))
        return token, secret

    def authenticate(self, secret: str) -> AdminPrincipal:
        """The principal behind a bearer value; ``AuthenticationError`` for anything not usable now.

        Answers are cached by digest, in memory, only while this process has written nothing and, when a poller
        reports the store's change counter, until the counter moves (every change bumps it); otherwise for at
        most ``cache_seconds``. A revocation or a disabled owner made through this server applies to the very
        next request; one made through another server or the CLI, at the next poll (``cache_seconds`` apart).
        """
        if not looks_like_token(secret):
            raise AuthenticationError()
        now = self._clock.now()
        key = digest(secret)
        hit = self._from_cache(key, now)
        if hit is not None:
            return hit
        # Both read before the lookup: a change committed after it moves one of them, so the entry is dropped.
        writes = self._store.local_writes()
        revision = self._revision()
        with self._store.transaction(readonly=True) as tx:
            token = tx.find_admin_token(key)
            if token is None or not token.usable(now):
                raise AuthenticationError()
            if token.user_id is not None:
                user = tx.get_user(token.user_id)
                # A disabled human's tokens stop working at once, without waiting for their expiry.
                if user is None or user.status is not UserStatus.ACTIVE:
                    raise AuthenticationError()
        principal = AdminPrincipal(actor=f"token:{token.id}", role=token.role, user_id=token.user_id)
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = (principal, token.expires_at, now, writes, revision)
        return principal

    def cached(self, secret: str) -> AdminPrincipal | None:
        """The principal if the cache answers for this bearer value (no I/O), else None: then ``authenticate``."""
        if not looks_like_token(secret):
            return None
        return self._from_cache(digest(secret), None)

    def _from_cache(self, key: str, now: datetime | None) -> AdminPrincipal | None:
        """The cached principal for this digest if still good ``now`` (read from the clock only when needed: a
        token without expiry, cached since the store last changed, needs no time)."""
        cached = self._cache.get(key)
        if cached is None:
            return None
        principal, expires_at, cached_at, writes, revision = cached
        if revision is not None and revision == self._revision():
            fresh = True  # nothing changed anywhere since the lookup
        else:
            now = now or self._clock.now()
            fresh = (now - cached_at).total_seconds() < self._cache_seconds
        fresh = fresh and writes == self._store.local_writes()
        if fresh and (expires_at is None or (now or self._clock.now()) < expires_at):
            return principal
        self._cache.pop(key, None)
        return None

    def list(self, p: AdminPrincipal, page: PageRequest) -> Page[AdminToken]:
        authorize(p, Act.ADMIN_TOKEN_READ)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_admin_tokens(page)

    def revoke(self, p: AdminPrincipal, token_id: str) -> AdminToken:
        authorize(p, Act.ADMIN_TOKEN_REVOKE)
        now = self._clock.now()
        with self._store.transaction() as tx:
            before = tx.get_admin_token(token_id)
            if before is None:
                raise NotFound("no such admin token")
            if before.revoked_at is not None:
                return before
            after = replace(before, revoked_at=now)
            tx.update_admin_token(after)
            tx.add_event(_event(now, p.actor, "admin_token.revoke", after, _public(before), _public(after)))
            return after


class UserTx(Protocol):
    """A transaction that reads the registry's users."""

    def get_user(self, user_id: str, /) -> User | None: ...


def active_user(tx: UserTx, user_id: str, field: str) -> User:
    """The active user ``user_id`` a token acts for; ``ValidationError`` naming ``field`` when it does not exist or
    is not active."""
    user = tx.get_user(user_id)
    if user is None:
        raise ValidationError(f"user {user_id!r} does not exist", field=field)
    if user.status is not UserStatus.ACTIVE:
        raise ValidationError(f"user {user_id!r} is {user.status.value}", field=field)
    return user


def _unknown() -> int | None:
    return None


def _public(token: AdminToken) -> dict[str, object]:
    """What an event may say about a token: never the digest."""
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role.value,
        "user_id": token.user_id,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _event(
    now: datetime,
    actor: str,
    action: str,
    token: AdminToken,
    before: dict[str, object] | None,
    after: dict[str, object],
) -> ChangeEvent:
    return ChangeEvent(
        id=new_id("evt"),
        at=now,
        actor=actor,
        action=action,
        target_type="admin_token",
        target_id=token.id,
        before=before,
        after=after,
    )
