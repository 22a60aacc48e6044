"""Agents' public keys for ``private_key_jwt`` on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from remit.api.schemas.common import Request
from remit.tokens.agentkeys import AgentKey


class AgentKeyAddRequest(Request):
    jwk: dict[str, Any] = Field(
        description="A public JWK: OKP/Ed25519 (EdDSA), EC/P-256 (ES256), or RSA of 2048 bits or more with `alg` "
        "RS256 or PS256. Never a private member. A `kid`, if present, must be the RFC 7638 thumbprint."
    )


class AgentKeyResponse(BaseModel):
    kid: str = Field(description="The key's RFC 7638 thumbprint: the `kid` header of the agent's client assertions.")
    agent: str
    alg: str
    status: str = Field(description="`active` (verifies client assertions) or `revoked`.")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    jwk: dict[str, Any] = Field(description="The public JWK, with `kid`, `alg` and `use`.")

    @classmethod
    def of(cls, key: AgentKey) -> AgentKeyResponse:
        return cls(
            kid=key.kid,
            agent=key.agent,
            alg=key.alg,
            status="active" if key.active else "revoked",
            created_at=key.created_at,
            created_by=key.created_by,
            revoked_at=key.revoked_at,
            jwk=key.jwk,
        )
