"""``/v1/agents/{name}/client``: the agent's OAuth client metadata (RFC 7591 §2), such as whether its tokens must
be DPoP-bound (RFC 9449 §5.2)."""

from __future__ import annotations

from fastapi import APIRouter

from remit.api.deps import PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath
from remit.api.schemas.agent_clients import AgentClientRequest, AgentClientResponse

router = APIRouter(prefix="/v1/agents/{name}/client", tags=["agents"], responses=ERRORS)


@router.get("", response_model=AgentClientResponse)
def get_agent_client(name: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> AgentClientResponse:
    """The agent's client metadata; the defaults (DPoP optional) until one is set."""
    return AgentClientResponse.of(remit.agent_clients.get(p, name))


@router.put("", response_model=AgentClientResponse)
def put_agent_client(
    name: AgentNamePath, body: AgentClientRequest, remit: RemitDep, p: PrincipalDep
) -> AgentClientResponse:
    """Set the agent's client metadata. Owners set their own agents'; each change is recorded as
    ``agent_client.update`` with the values before and after."""
    client = remit.agent_clients.update(p, name, dpop_bound_access_tokens=body.dpop_bound_access_tokens)
    return AgentClientResponse.of(client)
