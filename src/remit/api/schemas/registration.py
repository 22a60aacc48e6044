"""Initial access tokens for dynamic client registration on the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from remit.api.schemas.common import Bool, DateTime, Int, Request, ShortText, UserId
from remit.tokens.registrationtokens import RegistrationToken


class RegistrationTokenCreateRequest(Request):
    owner: UserId | None = Field(default=None, description="The owner of every agent the token registers.")
    any_owner: Bool = Field(
        default=False, description="Instead of `owner`: the token registers agents for any owner the request names."
    )
    expires_at: DateTime | None = Field(default=None, description="Default: an hour from now; at most 30 days.")
    max_uses: Int | None = Field(default=None, ge=1, le=10_000, description="Default: until it expires.")
    name: ShortText = Field(default="", description="What it is for.")


class RegistrationTokenResponse(BaseModel):
    id: str
    name: str
    owner: str | None = Field(description="null: any owner the registration names.")
    status: str = Field(description="`active`, `expired`, `used` (every use spent) or `revoked`.")
    created_at: datetime
    created_by: str
    expires_at: datetime
    max_uses: int | None
    use_count: int
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: RegistrationToken, now: datetime) -> RegistrationTokenResponse:
        return cls(
            id=t.id,
            name=t.name,
            owner=t.owner,
            status=t.status(now),
            created_at=t.created_at,
            created_by=t.created_by,
            expires_at=t.expires_at,
            max_uses=t.max_uses,
            use_count=t.use_count,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


class RegistrationTokenCreatedResponse(RegistrationTokenResponse):
    token: str = Field(description="The bearer value for `POST /oauth/register`. Shown once; Remit keeps a digest.")
