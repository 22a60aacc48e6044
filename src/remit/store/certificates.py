"""Remit's CA and agents' client certificates: ``certificate_authorities`` and ``agent_certificates`` rows, in the
registry store's transactions.

Making the CA runs in ``CertificateStore.changing()``, which locks the ``control`` row first (as signing key changes
do): two ``remit ca init`` at once on one PostgreSQL store take turns, and the second finds the first one's CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select

from remit.audit.events import ChangeEvent
from remit.errors import StoreError
from remit.registry.models import Agent, User
from remit.store.policies import CONTROL_ID
from remit.store.repository import SqlStore, SqlTx
from remit.store.tables import AgentCertificateRow, CertificateAuthorityRow, ControlRow
from remit.tokens.certificates import AgentCertificate, CaRecord


class CertificateStore:
    """The CA and the agent certificates over the registry's ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @contextmanager
    def reading(self) -> Iterator[CertificateTx]:
        with self._store.transaction(readonly=True) as tx:
            yield CertificateTx(tx)

    @contextmanager
    def changing(self) -> Iterator[CertificateTx]:
        """A write transaction holding the change lock from its first statement."""
        with self._store.transaction() as tx:
            certs = CertificateTx(tx)
            certs.lock()
            yield certs


class CertificateTx:
    """The certificate queries of one transaction."""

    def __init__(self, tx: SqlTx) -> None:
        self._tx = tx
        self._s = tx.s

    def lock(self) -> None:
        self._tx.control()  # the migration seeds the row; this puts it back in a truncated test database
        self._s.execute(select(ControlRow.id).where(ControlRow.id == CONTROL_ID).with_for_update())

    def get_agent(self, name: str) -> Agent | None:
        return self._tx.get_agent(name)

    def get_user(self, user_id: str) -> User | None:
        return self._tx.get_user(user_id)

    # -- the CA -----------------------------------------------------------------------------------------------

    def ca(self) -> CaRecord | None:
        """The CA, if one was made (the oldest, should there ever be several)."""
        q = select(CertificateAuthorityRow).order_by(CertificateAuthorityRow.created_at).limit(1)
        row = self._s.scalars(q).first()
        return None if row is None else _ca(row)

    def insert_ca(self, ca: CaRecord) -> None:
        self._s.add(
            CertificateAuthorityRow(
                id=ca.id,
                certificate_pem=ca.certificate_pem,
                key_type=ca.key_type,
                subject=ca.subject,
                not_before=ca.not_before,
                not_after=ca.not_after,
                private_enc=ca.private_enc,
                kek_id=ca.kek_id,
                created_at=ca.created_at,
                created_by=ca.created_by,
            )
        )
        self._s.flush()

    # -- agent certificates -----------------------------------------------------------------------------------

    def get(self, serial: str) -> AgentCertificate | None:
        row = self._s.get(AgentCertificateRow, serial)
        return None if row is None else _cert(row)

    def of_agent(self, agent: str) -> list[AgentCertificate]:
        """The agent's certificates, oldest first."""
        q = (
            select(AgentCertificateRow)
            .where(AgentCertificateRow.agent == agent)
            .order_by(AgentCertificateRow.issued_at, AgentCertificateRow.serial)
        )
        return [_cert(row) for row in self._s.scalars(q)]

    def insert(self, cert: AgentCertificate) -> None:
        self._s.add(
            AgentCertificateRow(
                serial=cert.serial,
                agent=cert.agent,
                spiffe_id=cert.spiffe_id,
                thumbprint=cert.thumbprint,
                not_before=cert.not_before,
                not_after=cert.not_after,
                issued_at=cert.issued_at,
                issued_by=cert.issued_by,
                certificate_pem=cert.certificate_pem,
                revoked_at=cert.revoked_at,
                revoked_by=cert.revoked_by,
                revoke_reason=cert.revoke_reason,
            )
        )
        self._s.flush()

    def revoke(self, serial: str, at: datetime, by: str, reason: str) -> None:
        row = self._s.get(AgentCertificateRow, serial)
        if row is None:
            raise StoreError(f"agent certificate {serial} vanished while it was being revoked")
        row.revoked_at = at
        row.revoked_by = by
        row.revoke_reason = reason
        self._s.flush()

    def add_event(self, event: ChangeEvent) -> None:
        self._tx.add_event(event)


def _ca(row: CertificateAuthorityRow) -> CaRecord:
    return CaRecord(
        id=row.id,
        certificate_pem=row.certificate_pem,
        key_type=row.key_type,
        subject=row.subject,
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
        created_by=row.created_by,
        private_enc=row.private_enc,
        kek_id=row.kek_id,
    )


def _cert(row: AgentCertificateRow) -> AgentCertificate:
    return AgentCertificate(
        serial=row.serial,
        agent=row.agent,
        spiffe_id=row.spiffe_id,
        thumbprint=row.thumbprint,
        not_before=row.not_before,
        not_after=row.not_after,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        certificate_pem=row.certificate_pem,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
    )
