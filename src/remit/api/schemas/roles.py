"""Role request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from remit.api.schemas.common import LongText, Request, RoleName
from remit.explain import rule
from remit.registry.models import ACTION_RULE, RESOURCE_ID_RULE, Permission, Role
from remit.registry.service import ACTION_NAME, RoleChanges, RoleDraft

ActionName = Annotated[str, StringConstraints(pattern=rule(ACTION_NAME.pattern, ACTION_RULE))]
_RESOURCE_REF = rule(
    r"^(\*|[A-Za-z0-9](?:[A-Za-z0-9._:-]{0,126}[A-Za-z0-9_])?)$",
    "* (every resource) or a resource id: " + RESOURCE_ID_RULE,
)
ResourceRef = Annotated[str, StringConstraints(pattern=_RESOURCE_REF)]


class PermissionBody(Request):
    actions: Annotated[
        list[ActionName], Field(min_length=1, max_length=32, description=f"1 to 32, each {ACTION_RULE}.")
    ]
    resource: ResourceRef = Field(description="A resource id (its children included), or * for every resource.")

    def to_domain(self) -> Permission:
        return Permission(actions=tuple(self.actions), resource=self.resource)

    @classmethod
    def of(cls, p: Permission) -> PermissionBody:
        return cls(actions=list(p.actions), resource=p.resource)


Permissions = Annotated[list[PermissionBody], Field(max_length=256)]


class RoleCreateRequest(Request):
    name: RoleName
    description: LongText = ""
    permissions: Permissions = Field(default_factory=list)

    def to_draft(self) -> RoleDraft:
        return RoleDraft(
            name=self.name,
            description=self.description,
            permissions=tuple(p.to_domain() for p in self.permissions),
        )


class RoleUpdateRequest(Request):
    description: LongText | None = None
    permissions: Permissions | None = None

    def to_changes(self) -> RoleChanges:
        return RoleChanges(
            description=self.description,
            permissions=None if self.permissions is None else tuple(p.to_domain() for p in self.permissions),
        )


class RoleResponse(BaseModel):
    name: str
    description: str
    permissions: list[PermissionBody]
    agents: list[str]
    users: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Role) -> RoleResponse:
        return cls(
            name=r.name,
            description=r.description,
            permissions=[PermissionBody.of(p) for p in r.permissions],
            agents=list(r.agents),
            users=list(r.users),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
