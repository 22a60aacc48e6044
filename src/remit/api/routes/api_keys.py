"""``/v1/agents/{name}/api-keys`` and ``/v1/api-keys``: agents' legacy static API keys (discouraged, always
expiring, every use flagged) and the report of their use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath
from remit.api.schemas.api_keys import (
    ApiKeyCreatedResponse,
    ApiKeyCreateRequest,
    ApiKeyReportItem,
    ApiKeyResponse,
)
from remit.api.schemas.common import PageResponse
from remit.explain import rule
from remit.paging import encode_cursor

router = APIRouter(tags=["agents"], responses=ERRORS)

_KEY_ID = rule(r"^[0-9a-f]{16}$", "a legacy API key id: 16 lowercase hexadecimal digits")
KeyIdPath = Annotated[str, Path(pattern=_KEY_ID, description="The legacy API key's id.")]


@router.post("/v1/agents/{name}/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreatedResponse)
def create_api_key(
    name: AgentNamePath, body: ApiKeyCreateRequest, remit: RemitDep, p: PrincipalDep
) -> ApiKeyCreatedResponse:
    """Mint a legacy API key for the agent. The response holds its value once; Remit keeps an argon2id hash.
    Prefer a key pair (``/v1/agents/{name}/keys``)."""
    key, value = remit.legacy_keys.create(p, name, body.expires_at)
    now = remit.clock.now()
    return ApiKeyCreatedResponse(**ApiKeyResponse.of(key, now).model_dump(), api_key=value)


@router.get("/v1/agents/{name}/api-keys", response_model=PageResponse[ApiKeyResponse])
def list_api_keys(name: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> PageResponse[ApiKeyResponse]:
    """The agent's legacy keys, oldest first, revoked and expired ones included. One page holds them all."""
    keys = remit.legacy_keys.list(p, name)
    now = remit.clock.now()
    return PageResponse[ApiKeyResponse](items=[ApiKeyResponse.of(k, now) for k in keys], next_cursor=None)


@router.delete("/v1/agents/{name}/api-keys/{key_id}", response_model=ApiKeyResponse)
def revoke_api_key(name: AgentNamePath, key_id: KeyIdPath, remit: RemitDep, p: PrincipalDep) -> ApiKeyResponse:
    """Revoke a legacy key: the token endpoint refuses it from now on. Final."""
    return ApiKeyResponse.of(remit.legacy_keys.revoke(p, name, key_id), remit.clock.now())


@router.get("/v1/api-keys", response_model=PageResponse[ApiKeyReportItem])
def api_key_report(remit: RemitDep, p: PrincipalDep, page: PageDep) -> PageResponse[ApiKeyReportItem]:
    """Every legacy key with its agent, owner, expiry, last use and use count, by id: all of them for admins and
    auditors, their own agents' for an owner."""
    got = remit.legacy_keys.report(p, page)
    now = remit.clock.now()
    items = [ApiKeyReportItem.of_owned(key, owner, now) for key, owner in got.items]
    return PageResponse[ApiKeyReportItem](items=items, next_cursor=encode_cursor(got.next_after))
