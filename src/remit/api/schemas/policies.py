"""Policy set versions, the enforcement mode and extra entities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from remit.api.schemas.common import SAFE_TEXT, Bool, Int, Request
from remit.policy.model import Mode, OnError
from remit.policy.service import PolicyStatus
from remit.policy.versions import PolicyVersion

Reason = Annotated[str, StringConstraints(max_length=1000, pattern=SAFE_TEXT)]


class PolicyApplyRequest(Request):
    policies: str = Field(max_length=4 * 1024 * 1024, description="Cedar policy text; `@id(...)` names a policy.")
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="A Cedar JSON schema fragment added to the registry's schema (new types, actions, contexts).",
    )
    on_error: OnError = OnError.DENY
    comment: Reason = ""
    activate: Bool = True


class PolicyValidateRequest(Request):
    policies: str = Field(max_length=4 * 1024 * 1024)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class PolicyValidateResponse(BaseModel):
    valid: bool
    policies: int


class PolicyVersionSummary(BaseModel):
    version: int
    digest: str
    comment: str
    on_error: OnError
    created_at: datetime
    created_by: str
    active: bool

    @classmethod
    def of(cls, v: PolicyVersion, active: int | None) -> PolicyVersionSummary:
        return cls(
            version=v.version,
            digest=v.digest,
            comment=v.comment,
            on_error=v.on_error,
            created_at=v.created_at,
            created_by=v.created_by,
            active=v.version == active,
        )


class PolicyVersionResponse(PolicyVersionSummary):
    policies: str
    schema_: dict[str, Any] | None = Field(alias="schema", serialization_alias="schema")

    @classmethod
    def full(cls, v: PolicyVersion, active: int | None) -> PolicyVersionResponse:
        summary = PolicyVersionSummary.of(v, active).model_dump()
        return cls.model_validate({**summary, "policies": v.policies, "schema": v.schema_fragment})


class PolicyStatusResponse(BaseModel):
    active_version: int | None
    mode: Mode
    entities_version: int | None
    entities_count: int
    revision: int

    @classmethod
    def of(cls, s: PolicyStatus) -> PolicyStatusResponse:
        return cls(
            active_version=s.control.active_policy_version,
            mode=s.control.mode,
            entities_version=s.control.active_entities_version,
            entities_count=s.entities_count,
            revision=s.control.revision,
        )


class ActivateRequest(Request):
    reason: Reason = ""


class RollbackRequest(Request):
    to: Int | None = Field(default=None, ge=1, le=2**31 - 1)
    reason: Reason = ""


class ModeRequest(Request):
    mode: Mode
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=SAFE_TEXT)]


class DiffResponse(BaseModel):
    diff: str


class EntitiesApplyRequest(Request):
    entities: list[dict[str, Any]] = Field(max_length=100_000, description="Cedar JSON entity format.")
    comment: Reason = ""


class EntitiesApplied(BaseModel):
    version: int
    count: int


class EntitiesResponse(BaseModel):
    version: int | None
    entities: list[dict[str, Any]]
