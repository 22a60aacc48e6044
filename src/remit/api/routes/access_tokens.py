"""``/v1/tokens``: agents' access tokens, as admins and owners see them (revocation by token or ``jti``).

Not to be confused with ``/v1/admin-tokens`` (the bearer tokens of the admin API itself)."""

from __future__ import annotations

from fastapi import APIRouter

from remit.api.deps import PrincipalDep, RemitDep
from remit.api.routes._common import ERRORS
from remit.api.schemas.access_tokens import TokenRevokeRequest, TokenRevokeResponse

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=ERRORS)


@router.post("/revoke", response_model=TokenRevokeResponse)
def revoke_token(body: TokenRevokeRequest, remit: RemitDep, p: PrincipalDep) -> TokenRevokeResponse:
    """Revoke an agent's access token: give `token`, or `jti` and `agent`. Admins revoke any agent's tokens, owners
    their own agents'. Every server refuses the token from the next request on (introspection answers
    `{"active": false}`); the revocation is recorded in the audit log. Revoking twice is not an error."""
    revocation = remit.token_revocation.revoke(p, token=body.token, jti=body.jti, agent=body.agent, reason=body.reason)
    return TokenRevokeResponse.of(revocation)
