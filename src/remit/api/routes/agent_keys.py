"""``/v1/agents/{name}/keys``: the public keys an agent authenticates with at the token endpoint
(``private_key_jwt``, RFC 7523)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from remit.api.deps import PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath
from remit.api.schemas.agent_keys import AgentKeyAddRequest, AgentKeyResponse
from remit.api.schemas.common import PageResponse
from remit.explain import rule

router = APIRouter(prefix="/v1/agents/{name}/keys", tags=["agents"], responses=ERRORS)

_KID = rule(r"^[A-Za-z0-9_-]{1,64}$", "a key thumbprint: 1 to 64 letters, digits, '-' and '_'")
KidPath = Annotated[str, Path(pattern=_KID, description="The key's RFC 7638 thumbprint.")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentKeyResponse)
def add_agent_key(name: AgentNamePath, body: AgentKeyAddRequest, remit: RemitDep, p: PrincipalDep) -> AgentKeyResponse:
    """Register a public key for the agent. Owners manage their own agents' keys (not a quarantined agent's)."""
    return AgentKeyResponse.of(remit.agent_keys.add(p, name, body.jwk))


@router.get("", response_model=PageResponse[AgentKeyResponse])
def list_agent_keys(name: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> PageResponse[AgentKeyResponse]:
    """The agent's keys, revoked ones included, oldest first. One page holds them all."""
    keys = remit.agent_keys.list(p, name)
    return PageResponse[AgentKeyResponse](items=[AgentKeyResponse.of(k) for k in keys], next_cursor=None)


@router.delete("/{kid}", response_model=AgentKeyResponse)
def revoke_agent_key(name: AgentNamePath, kid: KidPath, remit: RemitDep, p: PrincipalDep) -> AgentKeyResponse:
    """Revoke a key: client assertions it signs are refused from now on. Final."""
    return AgentKeyResponse.of(remit.agent_keys.revoke(p, name, kid))
