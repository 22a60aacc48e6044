"""Revoking an agent's access token as an admin (``POST /v1/tokens/revoke``) on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from remit.api.schemas.common import SAFE_TEXT, AgentName, Request
from remit.explain import rule
from remit.tokens.adminrevoke import MAX_REASON, Revocation
from remit.tokens.endpoint import MAX_JTI_CHARS

_SAFE = SAFE_TEXT
#: an access token is a compact JWS: base64url segments and dots
_COMPACT = rule(r"^[A-Za-z0-9_.=-]+$", "a compact JWT: base64url segments (letters, digits, '-' and '_') joined by '.'")


class TokenRevokeRequest(Request):
    """Name the token itself, or its ``jti`` and its agent."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=8192, pattern=_COMPACT)] | None = Field(
        default=None, description="The access token (it must verify against Remit's keys). Never stored or logged."
    )
    jti: Annotated[str, StringConstraints(min_length=1, max_length=MAX_JTI_CHARS, pattern=_SAFE)] | None = Field(
        default=None, description="The token's `jti` (with `agent`), when the token itself is not at hand."
    )
    agent: AgentName | None = Field(default=None, description="The agent the token was issued to (with `jti`).")
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON, pattern=_SAFE)] = Field(
        default="", description="Why, for the audit log."
    )


class TokenRevokeResponse(BaseModel):
    jti: str
    agent: str
    revoked_until: datetime = Field(
        description="The jti stays revoked until then: the token's expiry (plus clock leeway), or, revoked by jti, "
        "the longest lifetime a token can have."
    )
    already_revoked: bool = Field(description="True when it had been revoked before (nothing changed).")

    @classmethod
    def of(cls, revocation: Revocation) -> TokenRevokeResponse:
        return cls(
            jti=revocation.jti,
            agent=revocation.agent,
            revoked_until=revocation.expires_at,
            already_revoked=not revocation.newly,
        )
