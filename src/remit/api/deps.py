"""FastAPI dependencies as ``Annotated`` aliases: the wired services, the authenticated caller, paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.errors import AuthenticationError
from remit.paging import PageRequest, check_limit, decode_cursor

_bearer = HTTPBearer(auto_error=False, description="An admin token (`remit init` prints the first one).")


async def get_remit(request: Request) -> Remit:
    remit: Remit = request.app.state.remit
    return remit


RemitDep = Annotated[Remit, Depends(get_remit)]


async def get_principal(
    remit: RemitDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AdminPrincipal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError()
    return await authenticate(remit, f"Bearer {credentials.credentials}")


async def authenticate(remit: Remit, authorization: str | None) -> AdminPrincipal:
    """The caller behind an ``Authorization: Bearer`` header. A cached token costs no hop to the thread pool;
    a lookup in the store runs there, off the event loop."""
    value = _bearer_value(authorization)
    if value is None:
        raise AuthenticationError()
    cached = remit.admin_tokens.cached(value)
    if cached is not None:
        return cached
    return await run_in_threadpool(remit.admin_tokens.authenticate, value)


def cached_principal(remit: Remit, authorization: str | None) -> AdminPrincipal | None:
    """What ``authenticate`` returns when the token cache answers (no I/O, no await), else None: then call it."""
    value = _bearer_value(authorization)
    return None if value is None else remit.admin_tokens.cached(value)


def _bearer_value(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


PrincipalDep = Annotated[AdminPrincipal, Depends(get_principal)]


#: marks a listing's ``limit`` in the generated OpenAPI document, for ``page_size_in_openapi``
PAGE_SIZE = "x-remit-page-size"


async def get_page(
    remit: RemitDep,
    # No maximum here: it is the deployment's api.max_page_size, which the app writes into its OpenAPI document
    # where this marks the parameter (``page_size_in_openapi``).
    limit: Annotated[
        int | None, Query(ge=1, description="Items per page.", json_schema_extra={PAGE_SIZE: True})
    ] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor` of the previous page.")] = None,
) -> PageRequest:
    api = remit.settings.api
    limit = api.default_page_size if limit is None else check_limit(limit, api.max_page_size)
    return PageRequest(limit=limit, after=decode_cursor(cursor))


PageDep = Annotated[PageRequest, Depends(get_page)]


def page_size_in_openapi(document: dict[str, Any], maximum: int) -> dict[str, Any]:
    """Give every listing's ``limit`` in ``document`` the deployment's ``maximum`` (``api.max_page_size``), the number
    ``get_page`` enforces and says in its message. Idempotent."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if schema.pop(PAGE_SIZE, None):
                    for branch in schema.get("anyOf", [schema]):
                        if branch.get("type") == "integer":
                            branch["maximum"] = maximum
    return document
