"""Errors to HTTP, in one place: every error leaves as ``{code, message, field}`` with a 4xx status.

Domain errors map by class; request validation errors name the first offending field and say what is wrong in
Remit's words (``remit.explain``), never pydantic's or a regex; anything unexpected becomes a bare 500
``internal_error`` whose detail goes to the log, never to the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from remit.api.methods import RouteTable, route_path
from remit.errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    RemitError,
    StoreError,
    ValidationError,
)
from remit.explain import explain, json_problem, one_line
from remit.policy.authzen import InvalidAuthZenRequest
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.tokens.errors import InvalidClientMetadata, InvalidRequest, TemporarilyUnavailable, TokenError

log = logging.getLogger(__name__)

#: the OAuth endpoints: their errors, a store's too, have the RFC 6749 §5.2 shape
OAUTH_PREFIX = "/oauth/"

#: most specific first
STATUS: list[tuple[type[RemitError], int]] = [
    (InvalidTransition, 409),
    (BadRequest, 400),
    (PolicyValidationError, 422),
    (PolicySyntaxError, 422),
    (ValidationError, 422),
    (NotFound, 404),
    (Conflict, 409),
    (AuthenticationError, 401),
    (Forbidden, 403),
    (StoreError, 503),
    (ConfigurationError, 500),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="remit"'} if status == 401 else None
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: RemitError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def oauth_error_response(exc: TokenError) -> JSONResponse:
    """An OAuth error as its RFC says: ``{error, error_description}``, never cached, and on 401 a
    ``WWW-Authenticate`` challenge naming the error (RFC 6749 §5.2, RFC 6750 §3)."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if exc.status == 401 and exc.challenge == "Basic":
        headers["WWW-Authenticate"] = 'Basic realm="remit", charset="UTF-8"'  # RFC 7617: Basic has no error params
    elif exc.status == 401:
        description = exc.message.encode("ascii", "replace").decode().replace("\\", "\\\\").replace('"', '\\"')
        headers["WWW-Authenticate"] = f'Bearer realm="remit", error="{exc.code}", error_description="{description}"'
    headers.update(exc.headers)
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


#: path prefixes whose errors have their own shape: AuthZEN's (400, not 413: its errors are 400, 401, 403 and 500)
#: and OAuth's (RFC 6749 §5.2, RFC 7591 §3.2.2)
AUTHZEN_PREFIX = "/access/"
OAUTH_PREFIX = "/oauth/"


def body_refused(path: str, message: str, *, too_large: bool) -> JSONResponse:
    """A request body refused before it is read (``api.limits``): over the size limit (``too_large``), or with a
    ``Content-Length`` that is not a number; in the shape of every other error of the endpoint it was sent to."""
    if path.startswith(AUTHZEN_PREFIX):
        return error_response(400, InvalidAuthZenRequest.code, message, "body")
    status = 413 if too_large else 400
    if path.startswith(OAUTH_PREFIX):
        error = InvalidClientMetadata if path.startswith("/oauth/register") else InvalidRequest
        return oauth_error_response(error(message, status=status))
    return error_response(status, "body_too_large" if too_large else "bad_request", message, "body")


async def _remit_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RemitError)
    if isinstance(exc, TokenError):
        return oauth_error_response(exc)
    status = status_of(exc)
    if status >= 500:
        log.error("request failed: %s: %s", exc.code, exc.message, exc_info=exc.__cause__ or exc)
    if isinstance(exc, StoreError) and request.url.path.startswith(OAUTH_PREFIX):
        # an OAuth client reads ``error``: the store (or the audit log) unavailable is ``temporarily_unavailable``
        return oauth_error_response(TemporarilyUnavailable(exc.message))
    if isinstance(exc, ConfigurationError):  # its message names files and settings: for the log, not the caller
        return error_response(
            status, "internal_error", "the server is misconfigured; its operator can see why in its log"
        )
    response = error_response(status, exc.code, exc.message, exc.field)
    if isinstance(exc, PolicyValidationError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field, "problems": exc.problems}
        return JSONResponse(body, status_code=status)
    if isinstance(exc, PolicySyntaxError):
        body = {"code": exc.code, "message": exc.message, "field": exc.field, "line": exc.line, "column": exc.column}
        return JSONResponse(body, status_code=status)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            loc = tuple(err.get("loc") or ())
            pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
            doc = exc.body if isinstance(exc.body, str | bytes) else None
            detail = json_problem(str((err.get("ctx") or {}).get("error", "")), doc, pos)
            return error_response(400, "malformed_json", f"the request body is not valid JSON: {detail}", "body")
    if not errors:
        return error_response(422, "invalid_request", "the request is not valid")
    first = errors[0]
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return error_response(400, "missing_body", "a JSON request body is required", "body")
    problems = explain(errors, model=_body_model(request), data=exc.body, request=True)
    return error_response(422, "invalid_request", one_line(problems), problems[0].field)


def _body_model(request: Request) -> Any:
    """The type the route validates its JSON body as, for naming the fields it knows; None without a body."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return getattr(getattr(body_field, "field_info", None), "annotation", None)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint; see /openapi.json"
    headers = dict(exc.headers or {})
    field = None
    if exc.status_code == 405:
        allow = ", ".join(_allowed(request)) or headers.get("Allow", "")
        headers["Allow"] = allow
        message = f"{request.method} is not allowed here; this path answers {allow}"
    if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI's, for a body not UTF-8
        code, message, field = "malformed_json", "the request body is not valid JSON: it is not UTF-8 text", "body"
    response = error_response(exc.status_code, code, message, field)
    response.headers.update(headers)
    return response


def _allowed(request: Request) -> tuple[str, ...]:
    """Every method the request's path answers (the router names only those of the first route it matched)."""
    table: RouteTable | None = getattr(request.app.state, "route_table", None)
    return table.allowed(route_path(request.scope)) if table is not None else ()


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; the server log has the detail")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RemitError, _remit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
