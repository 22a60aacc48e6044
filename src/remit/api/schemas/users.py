"""User request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from remit.api.schemas.common import Attributes, AttrValue, Email, Request, ShortText, UserId, attrs_in, attrs_out
from remit.registry.models import User, UserStatus
from remit.registry.service import UserChanges, UserDraft


class UserCreateRequest(Request):
    id: UserId
    email: Email
    display_name: ShortText = ""
    attributes: Attributes = Field(default_factory=dict)

    def to_draft(self) -> UserDraft:
        return UserDraft(
            id=self.id, email=self.email, display_name=self.display_name, attributes=attrs_in(self.attributes)
        )


class UserUpdateRequest(Request):
    """Fields to change. ``status: disabled`` stops the user's admin tokens at once."""

    email: Email | None = None
    display_name: ShortText | None = None
    status: UserStatus | None = None
    attributes: Attributes | None = None

    def to_changes(self) -> UserChanges:
        return UserChanges(
            email=self.email,
            display_name=self.display_name,
            status=self.status,
            attributes=None if self.attributes is None else attrs_in(self.attributes),
        )


class UserResponse(BaseModel):
    id: str
    email: str
    display_name: str
    status: UserStatus
    attributes: dict[str, AttrValue]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, u: User) -> UserResponse:
        return cls(
            id=u.id,
            email=u.email,
            display_name=u.display_name,
            status=u.status,
            attributes=attrs_out(u.attributes),
            created_at=u.created_at,
            updated_at=u.updated_at,
        )
