"""``POST /oauth/register`` (RFC 7591 dynamic client registration, with an initial access token) and
``/v1/registration-tokens`` (the admin API that mints those tokens)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, OAUTH_UNAVAILABLE, render_page
from remit.api.schemas.common import PageResponse
from remit.api.schemas.oauth import ClientMetadata, OAuthErrorBody, json_body
from remit.api.schemas.registration import (
    RegistrationTokenCreatedResponse,
    RegistrationTokenCreateRequest,
    RegistrationTokenResponse,
)
from remit.errors import ValidationError
from remit.explain import rule
from remit.tokens.errors import InvalidClientMetadata

router = APIRouter()

#: client metadata is a few short fields and at most a handful of public keys
MAX_METADATA_BYTES = 65_536
#: an initial access token made without an expiry lasts this long
DEFAULT_LIFETIME = timedelta(hours=1)

_REGISTER_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": OAuthErrorBody,
        "description": "RFC 7591 §3.2.2 error: invalid_client_metadata (the description names the field), "
        "invalid_redirect_uri, invalid_software_statement",
    },
    401: {
        "model": OAuthErrorBody,
        "description": "RFC 6750 §3.1 invalid_token: a missing, unknown, expired, revoked or used-up token",
    },
    503: {"model": OAuthErrorBody, **OAUTH_UNAVAILABLE},
}


@router.post(
    "/oauth/register",
    tags=["oauth"],
    status_code=status.HTTP_201_CREATED,
    responses=_REGISTER_ERRORS,
    openapi_extra=json_body(ClientMetadata),
)
async def register(request: Request, remit: RemitDep) -> JSONResponse:
    """Register a client as an agent (RFC 7591): a JSON object of client metadata (`client_name`, `owner`, `jwks` or
    `jwks_uri`, ...), with an initial access token as `Authorization: Bearer`. The answer (201) holds the
    `client_id` and the registered metadata, and is never cached."""
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else None
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    metadata: object = None
    if media == "application/json" and len(body) <= MAX_METADATA_BYTES:
        try:
            metadata = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            metadata = None
    if metadata is None:  # the token is checked first all the same: an anonymous caller learns nothing
        await run_in_threadpool(remit.registration_tokens.authenticate, bearer)
        raise InvalidClientMetadata(
            f"the request body must be a JSON object (application/json, at most {MAX_METADATA_BYTES} bytes)"
        )
    # the registry, the store and possibly a jwks_uri fetch: off the event loop
    answer = await run_in_threadpool(remit.registration.register, bearer, metadata)
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


_TOKEN_ID = rule(
    r"^reg_[A-Za-z0-9_-]{1,40}$", "a registration token id: reg_ and then 1 to 40 letters, digits, '-' and '_'"
)
TokenIdPath = Annotated[str, Path(pattern=_TOKEN_ID, description="The registration token's id.")]


@router.post(
    "/v1/registration-tokens",
    tags=["admin"],
    responses=ERRORS,
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationTokenCreatedResponse,
)
def create_registration_token(
    body: RegistrationTokenCreateRequest, remit: RemitDep, p: PrincipalDep
) -> RegistrationTokenCreatedResponse:
    """Mint an initial access token for `POST /oauth/register` (admins). The answer holds its value once."""
    if (body.owner is None) == (not body.any_owner):
        raise ValidationError("give exactly one of owner and any_owner", field="owner")
    now = remit.clock.now()
    token, value = remit.registration_tokens.create(
        p,
        owner=body.owner,
        expires_at=body.expires_at or now + DEFAULT_LIFETIME,
        max_uses=body.max_uses,
        name=body.name,
    )
    return RegistrationTokenCreatedResponse(**RegistrationTokenResponse.of(token, now).model_dump(), token=value)


@router.get(
    "/v1/registration-tokens",
    tags=["admin"],
    responses=ERRORS,
    response_model=PageResponse[RegistrationTokenResponse],
)
def list_registration_tokens(
    remit: RemitDep, p: PrincipalDep, page: PageDep
) -> PageResponse[RegistrationTokenResponse]:
    """Initial access tokens (never their values), by id."""
    now = remit.clock.now()
    return render_page(remit.registration_tokens.list(p, page), lambda t: RegistrationTokenResponse.of(t, now))


@router.post(
    "/v1/registration-tokens/{token_id}/revoke",
    tags=["admin"],
    responses=ERRORS,
    response_model=RegistrationTokenResponse,
)
def revoke_registration_token(token_id: TokenIdPath, remit: RemitDep, p: PrincipalDep) -> RegistrationTokenResponse:
    """Revoke an initial access token: registrations with it are refused from now on."""
    return RegistrationTokenResponse.of(remit.registration_tokens.revoke(p, token_id), remit.clock.now())
