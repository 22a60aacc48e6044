"""Agent request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from remit.api.schemas.common import (
    AgentName,
    Attributes,
    AttrValue,
    DateTime,
    Int,
    Label,
    LongText,
    Request,
    UserId,
    attrs_in,
    attrs_out,
)
from remit.explain import sentence
from remit.registry.models import NAME_RULE, Agent, AgentStatus, RiskTier
from remit.registry.service import AgentChanges, AgentDraft


class AgentCreateRequest(Request):
    name: AgentName = Field(description="Unique; becomes spiffe://<trust-domain>/agent/<name>. " + sentence(NAME_RULE))
    owner: UserId = Field(description="The id of the accountable human; must be an active user.")
    purpose: LongText = ""
    team: Label = ""
    environment: Label = "production"
    risk_tier: RiskTier = RiskTier.MEDIUM
    clearance: Int = Field(default=0, ge=0, le=10)
    attributes: Attributes = Field(default_factory=dict)

    def to_draft(self) -> AgentDraft:
        return AgentDraft(
            name=self.name,
            owner=self.owner,
            purpose=self.purpose,
            team=self.team,
            environment=self.environment,
            risk_tier=self.risk_tier,
            clearance=self.clearance,
            attributes=attrs_in(self.attributes),
        )


class AgentUpdateRequest(Request):
    """Fields to change; absent fields stay as they are. Changing ``owner`` is for admins."""

    owner: UserId | None = None
    purpose: LongText | None = None
    team: Label | None = None
    environment: Label | None = None
    risk_tier: RiskTier | None = None
    clearance: Int | None = Field(default=None, ge=0, le=10)
    attributes: Attributes | None = None
    review_due_at: DateTime | None = None

    def to_changes(self) -> AgentChanges:
        return AgentChanges(
            owner=self.owner,
            purpose=self.purpose,
            team=self.team,
            environment=self.environment,
            risk_tier=self.risk_tier,
            clearance=self.clearance,
            attributes=None if self.attributes is None else attrs_in(self.attributes),
            review_due_at=self.review_due_at,
        )


class AgentResponse(BaseModel):
    id: str = Field(description="The SPIFFE id.")
    name: str
    owner: str
    purpose: str
    status: AgentStatus
    status_reason: str
    team: str
    environment: str
    risk_tier: RiskTier
    clearance: int
    attributes: dict[str, AttrValue]
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    review_due_at: datetime
    last_seen_at: datetime | None

    @classmethod
    def of(cls, a: Agent) -> AgentResponse:
        return cls(
            id=a.spiffe_id,
            name=a.name,
            owner=a.owner,
            purpose=a.purpose,
            status=a.status,
            status_reason=a.status_reason,
            team=a.team,
            environment=a.environment,
            risk_tier=a.risk_tier,
            clearance=a.clearance,
            attributes=attrs_out(a.attributes),
            roles=list(a.roles),
            created_at=a.created_at,
            updated_at=a.updated_at,
            review_due_at=a.review_due_at,
            last_seen_at=a.last_seen_at,
        )
