"""``/v1/resources``: apps, endpoints, MCP servers, tools and datasets, in a parent/child tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from remit.api.deps import PageDep, PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS, ResourceIdPath, render_page
from remit.api.schemas.common import RESOURCE, PageResponse
from remit.api.schemas.resources import ResourceCreateRequest, ResourceResponse, ResourceUpdateRequest
from remit.registry.models import ResourceKind
from remit.registry.ports import ResourceFilter

router = APIRouter(prefix="/v1/resources", tags=["resources"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ResourceResponse)
def create_resource(body: ResourceCreateRequest, remit: RemitDep, p: PrincipalDep) -> ResourceResponse:
    return ResourceResponse.of(remit.registry.create_resource(p, body.to_draft()))


@router.get("", response_model=PageResponse[ResourceResponse])
def list_resources(
    remit: RemitDep,
    p: PrincipalDep,
    page: PageDep,
    kind: ResourceKind | None = None,
    parent: Annotated[str | None, Query(max_length=128, pattern=RESOURCE)] = None,
) -> PageResponse[ResourceResponse]:
    where = ResourceFilter(kind=kind, parent=parent)
    return render_page(remit.registry.list_resources(p, where, page), ResourceResponse.of)


@router.get("/{resource_id}", response_model=ResourceResponse)
def get_resource(resource_id: ResourceIdPath, remit: RemitDep, p: PrincipalDep) -> ResourceResponse:
    return ResourceResponse.of(remit.registry.get_resource(p, resource_id))


@router.patch("/{resource_id}", response_model=ResourceResponse)
def update_resource(
    resource_id: ResourceIdPath, body: ResourceUpdateRequest, remit: RemitDep, p: PrincipalDep
) -> ResourceResponse:
    return ResourceResponse.of(remit.registry.update_resource(p, resource_id, body.to_changes()))


@router.delete("/{resource_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_resource(resource_id: ResourceIdPath, remit: RemitDep, p: PrincipalDep) -> Response:
    """Delete a resource that has no children and that no role names."""
    remit.registry.delete_resource(p, resource_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
