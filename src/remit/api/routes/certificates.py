"""``/v1/ca`` (Remit's CA for agents: the certificate is public) and ``/v1/agents/{name}/certificates``: client
certificates for mutual-TLS client authentication at the token endpoint (RFC 8705 §2.1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from remit.api.deps import PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath
from remit.api.schemas.certificates import (
    CaInitRequest,
    CaResponse,
    CertificateIssueRequest,
    CertificateResponse,
    ReasonText,
)
from remit.api.schemas.common import ErrorBody, PageResponse
from remit.explain import rule

router = APIRouter(tags=["certificates"], responses=ERRORS)

_SERIAL = rule(r"^[0-9a-fA-F]{1,40}$", "a certificate serial: 1 to 40 hexadecimal digits")
SerialPath = Annotated[str, Path(pattern=_SERIAL, description="The certificate's serial, hex.")]

_PUBLIC: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "There is no CA yet (`remit ca init`)"},
    503: {"model": ErrorBody, "description": "The store is unavailable"},
}


@router.get("/v1/ca", response_model=CaResponse, responses=_PUBLIC)
def get_ca(remit: RemitDep) -> CaResponse:
    """Remit's CA certificate, the trust anchor of agents' client certificates. Public: no token needed."""
    return CaResponse.of(remit.certificates.ca())


@router.post("/v1/ca", status_code=status.HTTP_201_CREATED, response_model=CaResponse)
def init_ca(remit: RemitDep, p: PrincipalDep, body: CaInitRequest | None = None) -> CaResponse:
    """Make Remit's CA (admins). Refused with 409 when it exists: a CA is never replaced."""
    req = body or CaInitRequest()
    made = remit.certificates.init(p, organization=req.organization, valid_days=req.valid_days, key_type=req.key_type)
    return CaResponse.of(made)


@router.post("/v1/agents/{name}/certificates", status_code=status.HTTP_201_CREATED, response_model=CertificateResponse)
def issue_certificate(
    name: AgentNamePath, body: CertificateIssueRequest, remit: RemitDep, p: PrincipalDep
) -> CertificateResponse:
    """Sign a client certificate for an active agent from its CSR. Owners manage their own agents' certificates
    (not a quarantined agent's)."""
    cert = remit.certificates.issue(p, name, body.csr, body.valid_for_seconds)
    return CertificateResponse.of(cert, remit.clock.now())


@router.get("/v1/agents/{name}/certificates", response_model=PageResponse[CertificateResponse])
def list_certificates(name: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> PageResponse[CertificateResponse]:
    """The agent's certificates, revoked and expired ones included, oldest first. One page holds them all."""
    now = remit.clock.now()
    certs = remit.certificates.list(p, name)
    return PageResponse[CertificateResponse](items=[CertificateResponse.of(c, now) for c in certs], next_cursor=None)


@router.delete("/v1/agents/{name}/certificates/{serial}", response_model=CertificateResponse)
def revoke_certificate(
    name: AgentNamePath,
    serial: SerialPath,
    remit: RemitDep,
    p: PrincipalDep,
    reason: Annotated[ReasonText, Query(description="Why; recorded in the audit trail.")] = "",
) -> CertificateResponse:
    """Revoke a certificate: it authenticates no token request from now on. Final."""
    return CertificateResponse.of(remit.certificates.revoke(p, name, serial, reason), remit.clock.now())
