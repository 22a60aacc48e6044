"""Token signing keys on the wire: the JWK Set (RFC 7517 §5), the admin listing, rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from remit.api.schemas.common import SAFE_TEXT, Bool, Request
from remit.tokens.keys import Alg, KeyStatus, VerificationKey

_REASON = SAFE_TEXT


class Jwk(BaseModel):
    """A public signing key (RFC 7517 §4): OKP/Ed25519 (RFC 8037) or EC/P-256; never a private member."""

    kty: str = Field(description="`OKP` (Ed25519) or `EC` (P-256).")
    crv: str
    x: str
    y: str | None = Field(default=None, description="EC keys only.")
    kid: str = Field(description="The key's RFC 7638 thumbprint; a token's `kid` header names it.")
    alg: Alg
    use: str = "sig"


class JwksResponse(BaseModel):
    keys: list[Jwk]


class KeyResponse(BaseModel):
    kid: str
    alg: Alg
    status: KeyStatus = Field(description="active (signs), retired (verifies until verify_until), expired.")
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    verify_until: datetime | None = Field(description="Tokens signed by a retired key verify until then.")
    jwk: dict[str, str] = Field(description="The public JWK, as the JWKS publishes it.")

    @classmethod
    def of(cls, key: VerificationKey, now: datetime) -> KeyResponse:
        return cls(
            kid=key.kid,
            alg=key.alg,
            status=key.state_at(now),
            created_at=key.created_at,
            activated_at=key.activated_at,
            retired_at=key.retired_at,
            verify_until=key.verify_until,
            jwk=key.jwk,
        )


class KeyRotateRequest(Request):
    reason: Annotated[str, StringConstraints(max_length=500, pattern=_REASON)] = ""
    revoke_previous: Bool = Field(
        default=False,
        description="The old key stops verifying at once (a compromised key): every token it signed is refused.",
    )


class KeyRotateResponse(BaseModel):
    active: KeyResponse
    retired: KeyResponse | None
