"""``POST /oauth/token`` (RFC 6749 §4.4 with RFC 7523 client authentication), ``POST /oauth/revoke`` (RFC 7009,
the same client authentication), ``POST /oauth/introspect`` (RFC 7662, an admin token of role pep, auditor or
admin) and the authorization server metadata ``/.well-known/oauth-authorization-server`` (RFC 8414)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from remit.admin.access import Act, authorize
from remit.api.deps import RemitDep, authenticate
from remit.api.routes._common import OAUTH_UNAVAILABLE
from remit.api.schemas.common import ErrorBody
from remit.api.schemas.oauth import IntrospectForm, OAuthErrorBody, RevokeForm, TokenForm, form_body
from remit.api.tls import client_certificate
from remit.container import Remit
from remit.tokens.agentkeys import AGENT_KEY_ALGORITHMS
from remit.tokens.clientsecret import BASIC, POST, client_secret
from remit.tokens.endpoint import GRANT_TYPE, IssuedToken, one_param
from remit.tokens.errors import InvalidClient, InvalidRequest
from remit.tokens.exchange import GRANT_TYPE as EXCHANGE_GRANT
from remit.tokens.exchange import ExchangedToken

router = APIRouter(tags=["oauth"])

#: a token request is a handful of short parameters and one assertion
MAX_FORM_BYTES = 16_384

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": OAuthErrorBody,
        "description": "RFC 6749 §5.2 error: invalid_request, unsupported_grant_type, invalid_scope, invalid_target; "
        "invalid_dpop_proof (RFC 9449 §5), use_dpop_nonce (§8, with a DPoP-Nonce header)",
    },
    401: {
        "model": OAuthErrorBody,
        "description": "RFC 6749 §5.2 error: invalid_client (a missing, bad, expired or replayed assertion; a wrong, "
        "expired or revoked legacy API key)",
    },
    503: {"model": OAuthErrorBody, **OAUTH_UNAVAILABLE},
}


@router.post("/oauth/token", responses=_TOKEN_ERRORS, openapi_extra=form_body(TokenForm))
async def token(request: Request, remit: RemitDep) -> JSONResponse:
    """Issue an access token (RFC 9068 JWT) to an agent: ``application/x-www-form-urlencoded`` with
    ``grant_type=client_credentials``, ``client_assertion_type``, ``client_assertion``, ``resource`` and
    ``scope``; or, over mutual TLS with a certificate from Remit's CA, ``client_id`` instead of the assertion
    (``tls_client_auth``, RFC 8705), the token then bound to the certificate; or, discouraged, a legacy API key as
    the client secret (HTTP Basic or ``client_secret``). With a ``DPoP`` header (a proof, RFC 9449), the token is
    bound to the proof's key and its ``token_type`` is ``DPoP``. Or exchange a token to act on someone's behalf
    (RFC 8693, ``private_key_jwt`` or mutual TLS, never a legacy key): ``grant_type`` token-exchange,
    ``subject_token``, ``subject_token_type``, optional ``actor_token`` and ``actor_token_type``, one ``resource``
    or ``audience``, optional ``scope``. The answer is never cached."""
    params = await _form(request)
    dpop = request.headers.getlist("dpop")
    authorization = request.headers.get("authorization")
    cert = client_certificate(request, remit.settings.api)  # mutual TLS (RFC 8705): binds the token
    # store reads, signing, and a legacy key's argon2 check: off the event loop
    nonces = remit.token_endpoint.dpop.nonces
    issued = await run_in_threadpool(_grant, remit, params, dpop, authorization, cert)
    headers = _NO_STORE
    if nonces is not None:  # the nonce for the next request (RFC 9449 §8.2)
        headers = {**_NO_STORE, "DPoP-Nonce": await run_in_threadpool(nonces.current)}
    return JSONResponse(issued.body(), headers=headers)


def _grant(
    remit: Remit, params: dict[str, list[str]], dpop: list[str], authorization: str | None, cert: bytes | None
) -> IssuedToken | ExchangedToken:
    endpoint = remit.token_endpoint
    if one_param(params, "grant_type") == EXCHANGE_GRANT:
        presented = client_secret(params, authorization)
        if presented is not None:  # delegation needs a key pair, never a static secret
            raise InvalidClient(
                "token exchange needs private_key_jwt or mutual-TLS client authentication: a legacy API key cannot "
                "delegate",
                challenge=presented.challenge,
            )
        agent, x5t = endpoint.delegating_client(params, cert)
        exchanged = remit.token_exchange.exchange(params, agent, endpoint.client_proof(agent, dpop), x5t)
        remit.metrics.token_issued("token_exchange")
        return exchanged
    issued = endpoint.client_credentials(params, dpop, authorization, cert)
    remit.metrics.token_issued("client_credentials")
    return issued


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: legacy API keys as client secrets (RFC 6749 §2.3.1): accepted at the token endpoint only
LEGACY_AUTH_METHODS = (BASIC, POST)

_REVOKE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 §5.2 error: invalid_request"},
    401: {
        "model": OAuthErrorBody,
        "description": "RFC 6749 §5.2 error: invalid_client (a missing, bad, expired or replayed assertion)",
    },
    503: {"model": OAuthErrorBody, **OAUTH_UNAVAILABLE},
}

_INTROSPECT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 §5.2 error: invalid_request"},
    401: {"model": ErrorBody, "description": "No valid admin bearer token"},
    403: {"model": ErrorBody, "description": "The admin token's role may not introspect"},
    503: {"model": OAuthErrorBody, **OAUTH_UNAVAILABLE},
}


@router.post("/oauth/revoke", responses=_REVOKE_ERRORS, openapi_extra=form_body(RevokeForm))
async def revoke(request: Request, remit: RemitDep) -> JSONResponse:
    """Revoke an access token (RFC 7009): form ``token``, optional ``token_type_hint``, and the agent's
    ``client_assertion_type`` and ``client_assertion`` as at the token endpoint, or ``client_id`` over mutual TLS.
    A client revokes only tokens issued to it; an unknown, invalid or foreign token is answered 200 all the same
    (§2.2)."""
    params = await _form(request)
    cert = client_certificate(request, remit.settings.api)
    await run_in_threadpool(remit.introspection.revoke, params, cert)
    return JSONResponse({}, headers=_NO_STORE)


@router.post(
    "/oauth/introspect",
    responses=_INTROSPECT_ERRORS,
    # the caller is a PEP (or auditor, admin) with an admin token, read by the handler itself
    openapi_extra={**form_body(IntrospectForm), "security": [{"HTTPBearer": []}]},
)
async def introspect(request: Request, remit: RemitDep) -> JSONResponse:
    """Introspect an access token (RFC 7662): form ``token``; the caller presents an admin bearer token of role
    pep, auditor or admin. Anything invalid, expired, revoked or whose agent is no longer active answers
    ``{"active": false}``."""
    principal = await authenticate(remit, request.headers.get("authorization"))
    authorize(principal, Act.DECISION_EVALUATE)
    params = await _form(request)
    answer = await run_in_threadpool(remit.introspection.introspect, params, principal.actor)
    return JSONResponse(answer, headers=_NO_STORE)


async def _form(request: Request) -> dict[str, list[str]]:
    """The ``application/x-www-form-urlencoded`` body; anything else is ``invalid_request``."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise InvalidRequest("the request body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest(
            f"the request body is over {MAX_FORM_BYTES} bytes; a token request is a few short parameters"
        )
    try:
        params = parse_qs(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False, max_num_fields=32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the request body is not a valid form") from exc
    return params


@router.get("/.well-known/oauth-authorization-server")
def metadata(remit: RemitDep) -> JSONResponse:
    """Authorization server metadata (RFC 8414 §2)."""
    endpoint = remit.token_endpoint
    api = remit.settings.api
    # RFC 8705: offered where a client certificate can reach the app (TLS here, or a trusted proxy forwarding it)
    mtls = api.tls_cert_file is not None or api.client_cert_header is not None
    methods = ["private_key_jwt", *(["tls_client_auth"] if mtls else []), *LEGACY_AUTH_METHODS]
    return JSONResponse(
        {
            "issuer": endpoint.issuer,
            "token_endpoint": endpoint.token_endpoint,
            "revocation_endpoint": remit.introspection.revocation_endpoint,
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt", *(["tls_client_auth"] if mtls else [])],
            "revocation_endpoint_auth_signing_alg_values_supported": sorted(AGENT_KEY_ALGORITHMS),
            "introspection_endpoint": remit.introspection.introspection_endpoint,
            "introspection_endpoint_auth_methods_supported": ["bearer"],
            "jwks_uri": f"{endpoint.issuer}/.well-known/jwks.json",
            "registration_endpoint": f"{endpoint.issuer}/oauth/register",
            "grant_types_supported": [GRANT_TYPE, EXCHANGE_GRANT],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": sorted(AGENT_KEY_ALGORITHMS),
            "response_types_supported": [],
            "dpop_signing_alg_values_supported": list(endpoint.dpop.algorithms),
            "tls_client_certificate_bound_access_tokens": mtls,  # RFC 8705 §3.3
        },
        headers={"Cache-Control": "public, max-age=300"},
    )
