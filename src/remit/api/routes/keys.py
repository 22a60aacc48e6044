"""``/.well-known/jwks.json`` (public) and ``/v1/keys``: the token signing keys, their listing and rotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from remit.api.deps import PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS
from remit.api.schemas.common import ErrorBody, PageResponse
from remit.api.schemas.keys import JwksResponse, KeyResponse, KeyRotateRequest, KeyRotateResponse

#: how long clients and caches may keep the JWKS; a verifier that meets an unknown ``kid`` fetches it again
JWKS_MAX_AGE = 300

router = APIRouter(tags=["keys"])

_JWKS_ERRORS: dict[int | str, dict[str, Any]] = {
    500: {"model": ErrorBody, "description": "The signing keys cannot be used (key-encryption key misconfigured)"},
    503: {"model": ErrorBody, "description": "The store is unavailable"},
}


@router.get("/.well-known/jwks.json", response_model=JwksResponse, responses=_JWKS_ERRORS)
def jwks(remit: RemitDep) -> JSONResponse:
    """The public keys that verify Remit's tokens (RFC 7517 JWK Set). No authentication."""
    return JSONResponse(remit.signing_keys.jwks(), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})


@router.get("/v1/keys", response_model=PageResponse[KeyResponse], responses=ERRORS)
def list_keys(remit: RemitDep, p: PrincipalDep) -> PageResponse[KeyResponse]:
    """Every signing key ever made, newest first: public halves and life cycle. One page holds them all."""
    now = remit.clock.now()
    keys = remit.signing_keys.list(p)
    return PageResponse[KeyResponse](items=[KeyResponse.of(k, now) for k in keys], next_cursor=None)


@router.post("/v1/keys/rotate", status_code=status.HTTP_201_CREATED, response_model=KeyRotateResponse, responses=ERRORS)
def rotate_keys(remit: RemitDep, p: PrincipalDep, body: KeyRotateRequest | None = None) -> KeyRotateResponse:
    """Make a new active signing key. The old one keeps verifying until its last token has expired
    (``verify_until``), or, with ``revoke_previous``, stops at once."""
    req = body or KeyRotateRequest()
    rotation = remit.signing_keys.rotate(p, reason=req.reason, revoke_previous=req.revoke_previous)
    now = remit.clock.now()
    return KeyRotateResponse(
        active=KeyResponse.of(rotation.active, now),
        retired=KeyResponse.of(rotation.retired, now) if rotation.retired is not None else None,
    )
