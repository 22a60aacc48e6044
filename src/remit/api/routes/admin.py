"""``/v1/events``, ``/v1/admin-tokens`` and ``/v1/whoami``: the change trail and the admin credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from remit.admin.access import AdminRole
from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, TokenIdPath, render_page
from remit.api.schemas.admin import (
    AdminTokenCreatedResponse,
    AdminTokenCreateRequest,
    AdminTokenResponse,
    EventResponse,
)
from remit.api.schemas.common import SOME_LINE, DateTime, PageResponse
from remit.errors import ValidationError
from remit.registry.ports import EventFilter

router = APIRouter(tags=["admin"], responses=ERRORS)

_Text = Annotated[str | None, Query(max_length=200, pattern=SOME_LINE)]


class WhoAmIResponse(BaseModel):
    actor: str
    role: AdminRole
    user_id: str | None


@router.get("/v1/whoami", response_model=WhoAmIResponse)
def whoami(p: PrincipalDep) -> WhoAmIResponse:
    return WhoAmIResponse(actor=p.actor, role=p.role, user_id=p.user_id)


@router.get("/v1/events", response_model=PageResponse[EventResponse], response_model_by_alias=True)
def list_events(
    remit: RemitDep,
    p: PrincipalDep,
    page: PageDep,
    target_type: _Text = None,
    target_id: _Text = None,
    actor: _Text = None,
    action: _Text = None,
    since: DateTime | None = None,
    until: DateTime | None = None,
) -> PageResponse[EventResponse]:
    """Registry changes, newest first: who changed what, with the object before and after."""
    if since is not None and until is not None and since >= until:
        raise ValidationError("since must be earlier than until", field="since")
    where = EventFilter(
        target_type=target_type, target_id=target_id, actor=actor, action=action, since=since, until=until
    )
    return render_page(remit.registry.list_events(p, where, page), EventResponse.of)


@router.post("/v1/admin-tokens", status_code=status.HTTP_201_CREATED, response_model=AdminTokenCreatedResponse)
def create_admin_token(body: AdminTokenCreateRequest, remit: RemitDep, p: PrincipalDep) -> AdminTokenCreatedResponse:
    """Mint an admin token. The response holds the secret once; Remit keeps only its digest."""
    token, secret = remit.admin_tokens.create(
        p, name=body.name, role=body.role, user_id=body.user_id, expires_at=body.expires_at
    )
    return AdminTokenCreatedResponse(**AdminTokenResponse.of(token).model_dump(), token=secret)


@router.get("/v1/admin-tokens", response_model=PageResponse[AdminTokenResponse])
def list_admin_tokens(remit: RemitDep, p: PrincipalDep, page: PageDep) -> PageResponse[AdminTokenResponse]:
    return render_page(remit.admin_tokens.list(p, page), AdminTokenResponse.of)


@router.post("/v1/admin-tokens/{token_id}/revoke", response_model=AdminTokenResponse)
def revoke_admin_token(token_id: TokenIdPath, remit: RemitDep, p: PrincipalDep) -> AdminTokenResponse:
    return AdminTokenResponse.of(remit.admin_tokens.revoke(p, token_id))
