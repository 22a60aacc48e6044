"""``/v1/agents``: register, read, change and retire agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath, render_page
from remit.api.schemas.agents import AgentCreateRequest, AgentResponse, AgentUpdateRequest
from remit.api.schemas.common import LABEL_PATTERN, NAME, PageResponse, StatusChangeRequest
from remit.registry.models import AgentAction, AgentStatus, RiskTier
from remit.registry.ports import AgentFilter

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=ERRORS)

_Label = Annotated[str | None, Query(max_length=63, pattern=LABEL_PATTERN)]
_Name = Annotated[str | None, Query(max_length=64, pattern=NAME)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentResponse)
def create_agent(body: AgentCreateRequest, remit: RemitDep, p: PrincipalDep) -> AgentResponse:
    """Register an agent. Its owner must be an active user; an owner registers agents in their own name."""
    return AgentResponse.of(remit.registry.create_agent(p, body.to_draft()))


@router.get("", response_model=PageResponse[AgentResponse])
def list_agents(
    remit: RemitDep,
    p: PrincipalDep,
    page: PageDep,
    owner: _Name = None,
    agent_status: Annotated[AgentStatus | None, Query(alias="status")] = None,
    team: _Label = None,
    environment: _Label = None,
    risk_tier: RiskTier | None = None,
    role: _Name = None,
) -> PageResponse[AgentResponse]:
    """The inventory, by name. Owners see only their own agents."""
    where = AgentFilter(
        owner=owner, status=agent_status, team=team, environment=environment, risk_tier=risk_tier, role=role
    )
    return render_page(remit.registry.list_agents(p, where, page), AgentResponse.of)


@router.get("/{name}", response_model=AgentResponse)
def get_agent(name: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> AgentResponse:
    return AgentResponse.of(remit.registry.get_agent(p, name))


@router.patch("/{name}", response_model=AgentResponse)
def update_agent(name: AgentNamePath, body: AgentUpdateRequest, remit: RemitDep, p: PrincipalDep) -> AgentResponse:
    """Change fields; absent fields stay. Transferring to another owner is for admins."""
    return AgentResponse.of(remit.registry.update_agent(p, name, body.to_changes()))


def _lifecycle(verb: AgentAction, summary: str) -> None:
    def handler(name: AgentNamePath, body: StatusChangeRequest, remit: RemitDep, p: PrincipalDep) -> AgentResponse:
        return AgentResponse.of(remit.registry.change_agent_status(p, name, verb, body.reason))

    handler.__name__ = f"{verb.value}_agent"
    router.post(f"/{{name}}/{verb.value}", response_model=AgentResponse, summary=summary)(handler)


_lifecycle(AgentAction.SUSPEND, "Suspend an agent (reversible)")
_lifecycle(AgentAction.RESUME, "Resume a suspended or quarantined agent")
_lifecycle(AgentAction.QUARANTINE, "Quarantine an agent (admins; a security response)")
_lifecycle(AgentAction.RETIRE, "Retire an agent for good; its name is never reused")
