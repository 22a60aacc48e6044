"""Resource request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from remit.api.schemas.common import Attributes, AttrValue, Label, Request, ResourceId, ShortText, attrs_in, attrs_out
from remit.registry.models import Resource, ResourceKind, Sensitivity
from remit.registry.service import ResourceChanges, ResourceDraft

DataClasses = Annotated[list[Label], Field(max_length=32)]


class ResourceCreateRequest(Request):
    id: ResourceId
    kind: ResourceKind
    display_name: ShortText = ""
    parent: ResourceId | None = Field(default=None, description="A tool sits under an MCP server or app.")
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    data_classes: DataClasses = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)

    def to_draft(self) -> ResourceDraft:
        return ResourceDraft(
            id=self.id,
            kind=self.kind,
            display_name=self.display_name,
            parent=self.parent,
            sensitivity=self.sensitivity,
            data_classes=tuple(self.data_classes),
            attributes=attrs_in(self.attributes),
        )


class ResourceUpdateRequest(Request):
    display_name: ShortText | None = None
    sensitivity: Sensitivity | None = None
    data_classes: DataClasses | None = None
    attributes: Attributes | None = None

    def to_changes(self) -> ResourceChanges:
        return ResourceChanges(
            display_name=self.display_name,
            sensitivity=self.sensitivity,
            data_classes=None if self.data_classes is None else tuple(self.data_classes),
            attributes=None if self.attributes is None else attrs_in(self.attributes),
        )


class ResourceResponse(BaseModel):
    id: str
    kind: ResourceKind
    display_name: str
    parent: str | None
    sensitivity: Sensitivity
    data_classes: list[str]
    attributes: dict[str, AttrValue]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Resource) -> ResourceResponse:
        return cls(
            id=r.id,
            kind=r.kind,
            display_name=r.display_name,
            parent=r.parent,
            sensitivity=r.sensitivity,
            data_classes=list(r.data_classes),
            attributes=attrs_out(r.attributes),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
