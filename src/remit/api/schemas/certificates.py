"""Remit's CA and agents' client certificates (mutual TLS, RFC 8705) on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from remit.api.schemas.common import ONE_LINE, SAFE_TEXT, Int, Request
from remit.tokens.ca import MAX_CSR_BYTES
from remit.tokens.certificates import MAX_REASON_CHARS, AgentCertificate, CaRecord

Organization = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ONE_LINE)]


class CaInitRequest(Request):
    organization: Organization | None = Field(
        default=None, description="The CA certificate's `O=`; default the setting `tokens.ca_organization`."
    )
    valid_days: Int | None = Field(
        default=None, ge=1, le=36_500, description="Validity of the CA certificate; default `tokens.ca_validity_days`."
    )
    key_type: Literal["p256", "ed25519"] = Field(
        default="p256", description="The CA key: ECDSA P-256 (accepted by every TLS stack) or Ed25519."
    )


class CaResponse(BaseModel):
    id: str = Field(description="The CA certificate's SHA-256 thumbprint (base64url).")
    subject: str
    key_type: str
    not_before: datetime
    not_after: datetime
    created_at: datetime
    created_by: str
    certificate: str = Field(description="The CA certificate, PEM: what TLS servers and clients trust.")

    @classmethod
    def of(cls, ca: CaRecord) -> CaResponse:
        return cls(
            id=ca.id,
            subject=ca.subject,
            key_type=ca.key_type,
            not_before=ca.not_before,
            not_after=ca.not_after,
            created_at=ca.created_at,
            created_by=ca.created_by,
            certificate=ca.certificate_pem,
        )


class CertificateIssueRequest(Request):
    csr: str = Field(
        max_length=MAX_CSR_BYTES,
        description="A PEM PKCS #10 certificate signing request over the agent's own key: EC P-256 or P-384, "
        "Ed25519, or RSA of 2048 bits or more. Only its public key is used; subject and SAN come from the registry.",
    )
    valid_for_seconds: Int | None = Field(
        default=None,
        description="Validity; default `tokens.certificate_hours`, at most `tokens.max_certificate_hours`.",
    )


class CertificateResponse(BaseModel):
    serial: str = Field(description="The certificate's serial number, lowercase hex.")
    agent: str
    spiffe_id: str = Field(description="The certificate's URI SAN: the agent's SPIFFE id.")
    thumbprint: str = Field(description="`x5t#S256`: the `cnf` of access tokens bound to this certificate.")
    status: str = Field(description="`active`, `expired` or `revoked`.")
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str
    certificate: str = Field(description="The certificate, PEM.")

    @classmethod
    def of(cls, cert: AgentCertificate, now: datetime) -> CertificateResponse:
        return cls(
            serial=cert.serial,
            agent=cert.agent,
            spiffe_id=cert.spiffe_id,
            thumbprint=cert.thumbprint,
            status=cert.status(now),
            not_before=cert.not_before,
            not_after=cert.not_after,
            issued_at=cert.issued_at,
            issued_by=cert.issued_by,
            revoked_at=cert.revoked_at,
            revoked_by=cert.revoked_by,
            revoke_reason=cert.revoke_reason,
            certificate=cert.certificate_pem,
        )


ReasonText = Annotated[str, StringConstraints(max_length=MAX_REASON_CHARS, pattern=SAFE_TEXT)]
