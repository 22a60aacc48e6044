"""An agent's OAuth client metadata on the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from remit.api.schemas.common import Bool, Request
from remit.tokens.clients import AgentClient


class AgentClientRequest(Request):
    dpop_bound_access_tokens: Bool = Field(
        description="RFC 9449 §5.2: true refuses the agent's token requests that carry no DPoP proof, so that every "
        "token it gets is bound to its DPoP key."
    )


class AgentClientResponse(BaseModel):
    agent: str
    dpop_bound_access_tokens: bool = Field(description="Whether every token request must carry a DPoP proof.")
    jwks_uri: str | None = Field(
        default=None, description="Where the agent publishes its keys, when it registered itself with a jwks_uri."
    )
    updated_at: datetime | None = Field(description="The last change; null while the defaults apply.")
    updated_by: str | None

    @classmethod
    def of(cls, client: AgentClient) -> AgentClientResponse:
        return cls(
            agent=client.agent,
            dpop_bound_access_tokens=client.dpop_bound_access_tokens,
            jwks_uri=client.jwks_uri,
            updated_at=client.updated_at,
            updated_by=client.updated_by,
        )
