"""Change events and admin tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from remit.admin.access import AdminRole
from remit.admin.tokens import AdminToken
from remit.api.schemas.common import DateTime, Request, ShortText, UserId
from remit.audit.events import ChangeEvent


class EventResponse(BaseModel):
    id: str
    schema_: str = Field(alias="schema")
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    extra: dict[str, Any]
    masked: list[str] = Field(
        description="The dotted paths (`reason`, `after.purpose`, ...) whose values the audit masker replaced: "
        '`"***"` for a whole value, `[masked:<kind>]` for a credential inside text.'
    )

    @classmethod
    def of(cls, e: ChangeEvent) -> EventResponse:
        return cls.model_validate(
            {
                "id": e.id,
                "schema": e.schema,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "reason": e.reason,
                "before": e.before,
                "after": e.after,
                "extra": e.extra,
                "masked": list(e.masked),
            }
        )


class AdminTokenCreateRequest(Request):
    name: ShortText = Field(min_length=1, description="What the token is for.")
    role: AdminRole
    user_id: UserId | None = Field(default=None, description="Required for role owner: the human it acts for.")
    expires_at: DateTime | None = None


class AdminTokenResponse(BaseModel):
    id: str
    name: str
    role: AdminRole
    user_id: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: AdminToken) -> AdminTokenResponse:
        return cls(
            id=t.id,
            name=t.name,
            role=t.role,
            user_id=t.user_id,
            created_at=t.created_at,
            created_by=t.created_by,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
        )


class AdminTokenCreatedResponse(AdminTokenResponse):
    token: str = Field(description="The bearer value. Shown once; Remit keeps only its digest.")
