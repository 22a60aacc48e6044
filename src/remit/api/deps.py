"""FastAPI dependencies as ``Annotated`` aliases: the wired services, the authenticated caller, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.errors import AuthenticationError, ValidationError
from remit.paging import PageRequest, decode_cursor

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


async def get_page(
    remit: RemitDep,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Items per page.")] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor` of the previous page.")] = None,
) -> PageRequest:
    api = remit.settings.api
    if limit is not None and limit > api.max_page_size:
        raise ValidationError(f"limit is at most {api.max_page_size}", field="limit")
    return PageRequest(limit=limit or api.default_page_size, after=decode_cursor(cursor))


PageDep = Annotated[PageRequest, Depends(get_page)]
