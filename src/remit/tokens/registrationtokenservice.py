"""Registration tokens: mint (shown once), list, revoke, and check one presented at ``/oauth/register``.

Admins mint and revoke them; auditors read them. Every change is a change event (never with the digest).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.admin.service import active_user
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound, ValidationError
from remit.ids import new_id
from remit.paging import Page, PageRequest
from remit.registry.models import UserStatus, check_text
from remit.store.registrationtokens import RegistrationTokenStore
from remit.tokens.errors import InvalidToken
from remit.tokens.registrationtokens import (
    MAX_LIFETIME_DAYS,
    RegistrationToken,
    digest,
    looks_like_token,
    mint_secret,
)


class RegistrationTokenService:
    """Initial access tokens (RFC 7591 §3), over the shared store."""

    def __init__(self, store: RegistrationTokenStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(
        self,
        p: AdminPrincipal,
        *,
        owner: str | None,
        expires_at: datetime,
        max_uses: int | None = None,
        name: str = "",
    ) -> tuple[RegistrationToken, str]:
        """Mint a token that registers agents for ``owner`` (None: for any owner the request names); return it and
        its value, which is never stored or shown again."""
        authorize(p, Act.REGISTRATION_TOKEN_CREATE)
        check_text(name, "name", 100)
        now = self._clock.now()
        if expires_at <= now:
            raise ValidationError("expires_at must be in the future", field="expires_at")
        if expires_at - now > timedelta(days=MAX_LIFETIME_DAYS):
            raise ValidationError(f"a registration token lives at most {MAX_LIFETIME_DAYS} days", field="expires_at")
        if max_uses is not None and not 1 <= max_uses <= 10_000:
            raise ValidationError("max_uses must be from 1 to 10000", field="max_uses")
        secret = mint_secret()
        token = RegistrationToken(
            id=new_id("reg"),
            name=name.strip() or (f"registers agents for {owner}" if owner else "registers agents for any owner"),
            owner=owner,
            digest=digest(secret),
            created_at=now,
            created_by=p.actor,
            expires_at=expires_at,
            max_uses=max_uses,
        )
        with self._store.changing() as tx:
            if owner is not None:
                active_user(tx, owner, "owner")
            tx.insert(token)
            tx.add_event(_event(now, p.actor, "registration_token.create", token, None))
        return token, secret

    def list(self, p: AdminPrincipal, page: PageRequest) -> Page[RegistrationToken]:
        authorize(p, Act.REGISTRATION_TOKEN_READ)
        with self._store.reading() as tx:
            return tx.list(page)

    def revoke(self, p: AdminPrincipal, token_id: str) -> RegistrationToken:
        """Revoke a token: registrations with it are refused from now on. Final."""
        authorize(p, Act.REGISTRATION_TOKEN_REVOKE)
        now = self._clock.now()
        with self._store.changing() as tx:
            before = tx.get(token_id)
            if before is None:
                raise NotFound(f"no such registration token {token_id!r}", field="id")
            if before.revoked_at is not None:
                raise Conflict(f"the registration token {token_id} is already revoked")
            tx.revoke(token_id, now)
            after = replace(before, revoked_at=now)
            tx.add_event(_event(now, p.actor, "registration_token.revoke", after, before))
        return after

    # -- for /oauth/register ----------------------------------------------------------------------------------

    def authenticate(self, value: str | None) -> RegistrationToken:
        """The usable token behind a bearer value. Raises ``InvalidToken`` (401) for a missing, unknown, revoked,
        expired or used-up one, or one whose owner is no longer active."""
        if not value:
            raise InvalidToken("an initial access token is required (Authorization: Bearer remit_reg_...)")
        if not looks_like_token(value):
            raise InvalidToken("the initial access token is not valid")
        with self._store.reading() as tx:
            token = tx.find(digest(value))
            owner = tx.get_user(token.owner) if token is not None and token.owner is not None else None
        if token is None:
            raise InvalidToken("the initial access token is not valid")
        state = token.status(self._clock.now())
        if state != "active":
            raise InvalidToken(f"the initial access token is {state}")
        if token.owner is not None and (owner is None or owner.status is not UserStatus.ACTIVE):
            raise InvalidToken("the initial access token's owner is disabled")
        return token

    def consume(self, token: RegistrationToken) -> None:
        """Spend one use of ``token``; ``InvalidToken`` if another request spent the last one meanwhile."""
        if not self._store.consume(token.id, self._clock.now()):
            raise InvalidToken("the initial access token is used up, expired or revoked")

    def refund(self, token: RegistrationToken) -> None:
        self._store.refund(token.id)


def public(token: RegistrationToken) -> dict[str, Any]:
    """What an event may say about a token: never the digest."""
    return {
        "id": token.id,
        "name": token.name,
        "owner": token.owner,
        "expires_at": token.expires_at.isoformat(),
        "max_uses": token.max_uses,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _event(
    now: datetime, actor: str, action: str, token: RegistrationToken, before: RegistrationToken | None
) -> ChangeEvent:
    return ChangeEvent(
        id=new_id("evt"),
        at=now,
        actor=actor,
        action=action,
        target_type="registration_token",
        target_id=token.id,
        before=public(before) if before is not None else None,
        after=public(token),
    )
