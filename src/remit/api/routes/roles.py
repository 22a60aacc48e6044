"""``/v1/roles``: permission bundles and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, AgentNamePath, RoleNamePath, UserIdPath, render_page
from remit.api.schemas.common import NAME, PageResponse
from remit.api.schemas.roles import RoleCreateRequest, RoleResponse, RoleUpdateRequest
from remit.registry.ports import RoleFilter

router = APIRouter(prefix="/v1/roles", tags=["roles"], responses=ERRORS)

_Name = Annotated[str | None, Query(max_length=64, pattern=NAME)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RoleResponse)
def create_role(body: RoleCreateRequest, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    """Create a role. Every resource a permission names must exist (``*`` means all)."""
    return RoleResponse.of(remit.registry.create_role(p, body.to_draft()))


@router.get("", response_model=PageResponse[RoleResponse])
def list_roles(
    remit: RemitDep, p: PrincipalDep, page: PageDep, agent: _Name = None, user: _Name = None
) -> PageResponse[RoleResponse]:
    return render_page(remit.registry.list_roles(p, RoleFilter(agent=agent, user=user), page), RoleResponse.of)


@router.get("/{name}", response_model=RoleResponse)
def get_role(name: RoleNamePath, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    return RoleResponse.of(remit.registry.get_role(p, name))


@router.patch("/{name}", response_model=RoleResponse)
def update_role(name: RoleNamePath, body: RoleUpdateRequest, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    return RoleResponse.of(remit.registry.update_role(p, name, body.to_changes()))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_role(name: RoleNamePath, remit: RemitDep, p: PrincipalDep) -> Response:
    remit.registry.delete_role(p, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{name}/agents/{agent}", response_model=RoleResponse)
def add_agent(name: RoleNamePath, agent: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    """Make an agent a member (idempotent)."""
    return RoleResponse.of(remit.registry.assign_agent(p, name, agent, member=True))


@router.delete("/{name}/agents/{agent}", response_model=RoleResponse)
def remove_agent(name: RoleNamePath, agent: AgentNamePath, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    return RoleResponse.of(remit.registry.assign_agent(p, name, agent, member=False))


@router.put("/{name}/users/{user}", response_model=RoleResponse)
def add_user(name: RoleNamePath, user: UserIdPath, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    return RoleResponse.of(remit.registry.assign_user(p, name, user, member=True))


@router.delete("/{name}/users/{user}", response_model=RoleResponse)
def remove_user(name: RoleNamePath, user: UserIdPath, remit: RemitDep, p: PrincipalDep) -> RoleResponse:
    return RoleResponse.of(remit.registry.assign_user(p, name, user, member=False))
