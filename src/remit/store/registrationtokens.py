"""Initial access tokens for dynamic client registration: ``registration_tokens`` rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from remit.errors import StoreError
from remit.paging import Page, PageRequest
from remit.store.scoped import ScopedStore, ScopedTx
from remit.store.tables import RegistrationTokenRow
from remit.tokens.registrationtokens import RegistrationToken


class RegistrationTokenTx(ScopedTx):
    """The registration token queries of one transaction."""

    def get(self, token_id: str) -> RegistrationToken | None:
        row = self._s.get(RegistrationTokenRow, token_id)
        return None if row is None else _token(row)

    def find(self, token_digest: str) -> RegistrationToken | None:
        row = self._s.scalars(select(RegistrationTokenRow).where(RegistrationTokenRow.digest == token_digest)).first()
        return None if row is None else _token(row)

    def list(self, page: PageRequest) -> Page[RegistrationToken]:
        q = select(RegistrationTokenRow)
        if page.after is not None:
            q = q.where(RegistrationTokenRow.id > page.after)
        rows = list(self._s.scalars(q.order_by(RegistrationTokenRow.id).limit(page.limit + 1)))
        items = tuple(_token(r) for r in rows[: page.limit])
        return Page(items=items, next_after=items[-1].id if len(rows) > page.limit and items else None)

    def insert(self, token: RegistrationToken) -> None:
        self._s.add(
            RegistrationTokenRow(
                id=token.id,
                name=token.name,
                owner=token.owner,
                digest=token.digest,
                created_at=token.created_at,
                created_by=token.created_by,
                expires_at=token.expires_at,
                max_uses=token.max_uses,
                use_count=token.use_count,
                last_used_at=token.last_used_at,
                revoked_at=token.revoked_at,
            )
        )
        self._s.flush()

    def revoke(self, token_id: str, at: datetime) -> None:
        row = self._s.get(RegistrationTokenRow, token_id)
        if row is None:
            raise StoreError(f"registration token {token_id} vanished while it was being revoked")
        row.revoked_at = at
        self._s.flush()


class RegistrationTokenStore(ScopedStore[RegistrationTokenTx]):
    """``registration_tokens`` over the registry's ``SqlStore``."""

    scope = RegistrationTokenTx

    def consume(self, token_id: str, now: datetime) -> bool:
        """Spend one use, atomically: False if the token is revoked, expired or used up by now (on any server)."""
        row = RegistrationTokenRow
        with self._store.transaction(uncached=True) as tx:
            done = tx.s.execute(
                update(row)
                .where(
                    row.id == token_id,
                    row.revoked_at.is_(None),
                    row.expires_at > now,
                    or_(row.max_uses.is_(None), row.use_count < row.max_uses),
                )
                .values(use_count=row.use_count + 1, last_used_at=now)
            )
            return bool(getattr(done, "rowcount", 0) == 1)

    def refund(self, token_id: str) -> None:
        """Give back a use spent on a registration that then failed."""
        row = RegistrationTokenRow
        with self._store.transaction(uncached=True) as tx:
            tx.s.execute(update(row).where(row.id == token_id, row.use_count > 0).values(use_count=row.use_count - 1))


def _token(row: RegistrationTokenRow) -> RegistrationToken:
    return RegistrationToken(
        id=row.id,
        name=row.name,
        owner=row.owner,
        digest=row.digest,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        max_uses=row.max_uses,
        use_count=row.use_count,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
