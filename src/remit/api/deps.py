"""FastAPI dependencies as ``Annotated`` aliases: the wired services, the authenticated caller, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.errors import AuthenticationError, ValidationError
from remit.paging import PageRequest, decode_cursor

_bearer = HTTPBearer(auto_error=False, description="An admin token (`remit init` prints the first one).")


def get_remit(request: Request) -> Remit:
    remit: Remit = request.app.state.remit
    return remit


RemitDep = Annotated[Remit, Depends(get_remit)]


def get_principal(
    remit: RemitDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AdminPrincipal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError()
    return remit.admin_tokens.authenticate(credentials.credentials)


PrincipalDep = Annotated[AdminPrincipal, Depends(get_principal)]


def get_page(
    remit: RemitDep,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Items per page.")] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor` of the previous page.")] = None,
) -> PageRequest:
    api = remit.settings.api
    if limit is not None and limit > api.max_page_size:
        raise ValidationError(f"limit is at most {api.max_page_size}", field="limit")
    return PageRequest(limit=limit or api.default_page_size, after=decode_cursor(cursor))


PageDep = Annotated[PageRequest, Depends(get_page)]
