"""Remit's CA and agents' client certificates: ``certificate_authorities`` and ``agent_certificates`` rows, in the
registry store's transactions.

Making the CA runs in ``CertificateStore.changing()``, which locks the ``control`` row first (as signing key changes
do): two ``remit ca init`` at once on one PostgreSQL store take turns, and the second finds the first one's CA.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from remit.store.scoped import ScopedStore, ScopedTx, columns, from_row
from remit.store.tables import AgentCertificateRow, CertificateAuthorityRow
from remit.tokens.certificates import AgentCertificate, CaRecord


class CertificateTx(ScopedTx):
    """The certificate queries of one transaction."""

    # -- the CA -----------------------------------------------------------------------------------------------

    def ca(self) -> CaRecord | None:
        """The CA, if one was made (the oldest, should there ever be several)."""
        q = select(CertificateAuthorityRow).order_by(CertificateAuthorityRow.created_at).limit(1)
        row = self._s.scalars(q).first()
        return None if row is None else from_row(CaRecord, row)

    def insert_ca(self, ca: CaRecord) -> None:
        self._s.add(CertificateAuthorityRow(**columns(ca)))
        self._s.flush()

    # -- agent certificates -----------------------------------------------------------------------------------

    def get(self, serial: str) -> AgentCertificate | None:
        row = self._s.get(AgentCertificateRow, serial)
        return None if row is None else from_row(AgentCertificate, row)

    def of_agent(self, agent: str) -> list[AgentCertificate]:
        """The agent's certificates, oldest first."""
        q = (
            select(AgentCertificateRow)
            .where(AgentCertificateRow.agent == agent)
            .order_by(AgentCertificateRow.issued_at, AgentCertificateRow.serial)
        )
        return [from_row(AgentCertificate, row) for row in self._s.scalars(q)]

    def insert(self, cert: AgentCertificate) -> None:
        self._s.add(AgentCertificateRow(**columns(cert)))
        self._s.flush()

    def revoke(self, serial: str, at: datetime, by: str, reason: str) -> None:
        row = self._existing(AgentCertificateRow, serial, "agent certificate", "revoked")
        row.revoked_at = at
        row.revoked_by = by
        row.revoke_reason = reason
        self._s.flush()


class CertificateStore(ScopedStore[CertificateTx]):
    """The CA and the agent certificates over the registry's ``SqlStore``."""

    scope = CertificateTx
    locks = True
