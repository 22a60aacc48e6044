"""Legacy static API keys on the wire: an agent's keys, the value shown once, and the report of their use."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from remit.api.schemas.common import DateTime, Request
from remit.tokens.legacykeys import LegacyApiKey


class ApiKeyCreateRequest(Request):
    expires_at: DateTime = Field(
        description="Required: when the key stops working; at most `tokens.legacy_key_max_days` (90) days away."
    )


class ApiKeyResponse(BaseModel):
    id: str = Field(description="The key's id: the part after `remit_apikey_` in its value; not secret.")
    prefix: str = Field(description="The beginning of the value (`remit_apikey_<id>`), to recognise the key by.")
    agent: str
    status: str = Field(description="`active`, `expired` or `revoked`.")
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="The last time the token endpoint accepted it.")
    use_count: int = Field(description="How many times the token endpoint accepted it.")

    @classmethod
    def of(cls, key: LegacyApiKey, now: datetime) -> ApiKeyResponse:
        return cls(
            id=key.id,
            prefix=key.prefix,
            agent=key.agent,
            status=key.status(now),
            created_at=key.created_at,
            created_by=key.created_by,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            use_count=key.use_count,
        )


class ApiKeyCreatedResponse(ApiKeyResponse):
    api_key: str = Field(
        description="The key's value, shown once: Remit keeps only an argon2id hash. The agent sends it as its "
        "client secret at `/oauth/token` (HTTP Basic with its name as the user, or `client_secret`)."
    )


class ApiKeyReportItem(ApiKeyResponse):
    owner: str = Field(description="The agent's owner: who to ask to migrate it.")

    @classmethod
    def of_owned(cls, key: LegacyApiKey, owner: str, now: datetime) -> ApiKeyReportItem:
        return cls(**ApiKeyResponse.of(key, now).model_dump(), owner=owner)
