"""Agents' X.509 client certificates and Remit's CA as stored: what was issued to whom, until when, and revoked
when (RFC 8705 §2.1 mutual-TLS client authentication)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

#: the longest revocation reason kept
MAX_REASON_CHARS: Final = 500


@dataclass(frozen=True, slots=True)
class CaRecord:
    """Remit's certificate authority as stored: the certificate (public) and its sealed private key."""

    id: str  #: the CA certificate's ``x5t#S256`` thumbprint
    certificate_pem: str
    key_type: str  #: ``p256`` or ``ed25519``
    subject: str  #: RFC 4514 text
    not_before: datetime
    not_after: datetime
    created_at: datetime
    created_by: str
    private_enc: str  #: the PKCS #8 DER sealed with the key-encryption key
    kek_id: str


@dataclass(frozen=True, slots=True)
class AgentCertificate:
    """A client certificate issued to an agent."""

    serial: str  #: lowercase hex
    agent: str
    spiffe_id: str  #: the certificate's one URI SAN
    thumbprint: str  #: ``x5t#S256``: base64url SHA-256 of the DER
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    issued_by: str  #: the actor who issued it
    certificate_pem: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str = ""

    def status(self, now: datetime) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.not_after else "active"
