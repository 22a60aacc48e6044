"""``POST /oauth/token`` (RFC 6749 §4.4 with RFC 7523 client authentication) and the authorization server
metadata ``/.well-known/oauth-authorization-server`` (RFC 8414). Neither takes an admin token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from remit.api.deps import RemitDep
from remit.api.schemas.common import ErrorBody
from remit.tokens.agentkeys import AGENT_KEY_ALGORITHMS
from remit.tokens.endpoint import GRANT_TYPE
from remit.tokens.errors import InvalidRequest

router = APIRouter(tags=["oauth"])

#: a token request is a handful of short parameters and one assertion
MAX_FORM_BYTES = 16_384

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "RFC 6749 §5.2 error: invalid_request, unsupported_grant_type, invalid_scope, invalid_target"},
    401: {"description": "RFC 6749 §5.2 error: invalid_client (a missing, bad, expired or replayed assertion)"},
    503: {"model": ErrorBody, "description": "The store is unavailable"},
}


@router.post("/oauth/token", responses=_TOKEN_ERRORS)
async def token(request: Request, remit: RemitDep) -> JSONResponse:
    """Issue an access token (RFC 9068 JWT) to an agent: ``application/x-www-form-urlencoded`` with
    ``grant_type=client_credentials``, ``client_assertion_type``, ``client_assertion``, ``resource`` and
    ``scope``. The answer is never cached."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise InvalidRequest("the request body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest("the request body is too large")
    try:
        params = parse_qs(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False, max_num_fields=32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the request body is not a valid form") from exc
    issued = await run_in_threadpool(remit.token_endpoint.client_credentials, params)  # store reads, signing
    return JSONResponse(issued.body(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/.well-known/oauth-authorization-server")
def metadata(remit: RemitDep) -> JSONResponse:
    """Authorization server metadata (RFC 8414 §2)."""
    endpoint = remit.token_endpoint
    return JSONResponse(
        {
            "issuer": endpoint.issuer,
            "token_endpoint": endpoint.token_endpoint,
            "jwks_uri": f"{endpoint.issuer}/.well-known/jwks.json",
            "grant_types_supported": [GRANT_TYPE],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": sorted(AGENT_KEY_ALGORITHMS),
            "response_types_supported": [],
        },
        headers={"Cache-Control": "public, max-age=300"},
    )
