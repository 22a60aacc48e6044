"""Token revocation (RFC 7009) and introspection (RFC 7662) of the access tokens Remit issues.

* ``revoke``: the caller is an agent authenticated by its ``private_key_jwt`` assertion, as at the token endpoint.
  A token that verifies against Remit's keys and was issued to that agent has its ``jti`` recorded in
  ``revoked_tokens`` until it expires; anything else (unknown, invalid, expired, another client's) is ignored,
  and the answer is the same 200 (RFC 7009 §2.2), so that nothing can be learnt about other clients' tokens.
* ``introspect``: a token is active when it verifies against Remit's keys (issuer, signature, expiry, ``typ``),
  its ``jti`` is not in ``revoked_tokens`` (read from the store on every call, so that a revocation applies on the
  very next request on every server), its agent is still active and the agent's owner is not disabled. A bound
  token's ``cnf`` is returned, with ``token_type`` ``DPoP`` for a DPoP-bound one (RFC 9449 §6.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from remit.audit.record import AUDIT_SCHEMA, Kind, timestamp
from remit.clock import Clock
from remit.ids import new_id
from remit.registry.models import AGENT_NAME, AgentStatus, UserStatus
from remit.store.repository import SqlStore
from remit.store.revocations import RevocationStore
from remit.tokens import jose
from remit.tokens.endpoint import MAX_JTI_CHARS, RecordAudit, TokenEndpoint, one_param
from remit.tokens.errors import InvalidRequest, InvalidToken, JoseError, TokenError
from remit.tokens.exchange import act_chain
from remit.tokens.keys import CLOCK_LEEWAY
from remit.tokens.ownkeys import OwnKeys, SigningKeys
from remit.tokens.verify import MAX_NUMERIC_DATE, VerifiedToken, VerifyPolicy, verify_jwt

INACTIVE: dict[str, Any] = {"active": False}


class TokenIntrospection:
    """``/oauth/revoke`` and ``/oauth/introspect`` over the store shared by every server."""

    def __init__(
        self,
        *,
        endpoint: TokenEndpoint,
        store: SqlStore,
        revocations: RevocationStore,
        signing_keys: SigningKeys,
        clock: Clock,
        record: RecordAudit | None = None,
    ) -> None:
        self._endpoint = endpoint
        self.issuer = endpoint.issuer
        self.revocation_endpoint = f"{self.issuer}/oauth/revoke"
        self.introspection_endpoint = f"{self.issuer}/oauth/introspect"
        self._store = store
        self._revocations = revocations
        self._lookup = OwnKeys(signing_keys)
        self._clock = clock
        self._record = record

    def revoke(self, params: Mapping[str, Sequence[str]], client_certificate: bytes | None = None) -> None:
        """RFC 7009 §2.1: the client authenticates with ``private_key_jwt``, or over mutual TLS with the DER
        ``client_certificate`` and ``client_id``. Raises a ``TokenError`` only for a bad request or client
        authentication."""
        token = one_param(params, "token")
        if not token:
            raise InvalidRequest("the token parameter is required")
        one_param(params, "token_type_hint")  # any hint is accepted (§2.2): only access tokens exist here
        agent, _ = self._endpoint.delegating_client(params, client_certificate, self.revocation_endpoint)
        verified = self._verify(token, check_revoked=False)
        if verified is None or verified.claims.get("client_id") != agent or not verified.jti:
            return
        jti = verified.jti
        if len(jti) > MAX_JTI_CHARS:  # pragma: no cover - Remit's own jti values are short
            return
        now = self._clock.now()
        until = revoked_until(verified, now)
        if not self._revocations.revoke(jti, agent, until, now):
            return  # revoked before: recorded then
        if self._record is not None:
            self._record(
                {
                    "schema": AUDIT_SCHEMA,
                    "id": new_id("rv"),
                    "at": timestamp(now),
                    "kind": Kind.TOKEN.value,
                    "action": "token.revoke",
                    "source": "token",
                    "actor": f"agent:{agent}",
                    "principal": {"type": "Agent", "id": agent},
                    "resource": {"type": "access_token", "id": jti},
                    "context": {"aud": verified.claims.get("aud")},
                }
            )

    def introspect(self, params: Mapping[str, Sequence[str]], caller: str = "unknown") -> dict[str, Any]:
        """RFC 7662 §2.2: ``{"active": false}`` for anything not currently usable. Every answer is recorded in the
        audit log (``token.introspect``, by ``caller``: the actor of the admin token presented) before it is
        returned: the token's ``jti`` and agent when it verifies, never the token."""
        token = one_param(params, "token")
        if not token:
            raise InvalidRequest("the token parameter is required")
        one_param(params, "token_type_hint")
        verified = self._verify(token, check_revoked=True)
        answer = self._answer(verified)
        self._recorded(caller, verified, answer)
        return answer

    def _answer(self, verified: VerifiedToken | None) -> dict[str, Any]:
        if verified is None:
            return dict(INACTIVE)
        claims = verified.claims
        if not self._parties_active(claims):
            return dict(INACTIVE)
        answer: dict[str, Any] = {"active": True}
        for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "sub_type", "act"):
            if name in claims:
                answer[name] = claims[name]
        if verified.cnf_x5t_s256 is not None:  # RFC 8705 §3.2
            answer["cnf"] = {"x5t#S256": verified.cnf_x5t_s256}
        if verified.cnf_jkt is not None:  # RFC 9449 §6.2
            answer["cnf"] = {**answer.get("cnf", {}), "jkt": verified.cnf_jkt}
            answer["token_type"] = "DPoP"  # noqa: S105 - the RFC 9449 token type
        else:
            answer["token_type"] = "Bearer"  # noqa: S105 - the RFC 6750 token type
        return answer

    def _recorded(self, caller: str, verified: VerifiedToken | None, answer: Mapping[str, Any]) -> None:
        if self._record is None:
            return
        body: dict[str, Any] = {
            "schema": AUDIT_SCHEMA,
            "id": new_id("in"),
            "at": timestamp(self._clock.now()),
            "kind": Kind.TOKEN.value,
            "action": "token.introspect",
            "source": "token",
            "actor": caller,
            "context": {"active": answer["active"]},
        }
        if verified is not None:  # a token Remit signed: whose it is, and which one
            client = verified.claims.get("client_id")
            if isinstance(client, str):
                body["principal"] = {"type": "Agent", "id": client}
            if verified.jti is not None:
                body["resource"] = {"type": "access_token", "id": verified.jti}
            body["context"]["aud"] = verified.claims.get("aud")
        self._record(body)

    def _parties_active(self, claims: Mapping[str, Any]) -> bool:
        """The token's subject and every actor in its ``act`` chain are still active (agents and their owners,
        users): suspending any party, or disabling an owner, ends the token on the very next request."""
        sub = claims.get("sub")
        try:
            actors = act_chain(claims.get("act"))
        except TokenError:
            return False
        is_user = claims.get("sub_type") == "user"
        if not isinstance(sub, str) or (not is_user and not AGENT_NAME.fullmatch(sub)):
            return False
        if not all(AGENT_NAME.fullmatch(a) for a in actors):
            return False
        with self._store.transaction(readonly=True) as tx:
            if is_user:
                user = tx.get_user(sub)
                if user is None or user.status is not UserStatus.ACTIVE:
                    return False
            for name in actors if is_user else (sub, *actors):
                agent = tx.get_agent(name)
                owner = tx.get_user(agent.owner) if agent is not None else None
                if agent is None or owner is None or agent.status is not AgentStatus.ACTIVE:
                    return False
                if owner.status is not UserStatus.ACTIVE:
                    return False
        return True

    def verify(self, token: str, *, check_revoked: bool) -> VerifiedToken:
        """``token`` verified as an access token Remit issued, for its own audience: ``iss``, ``typ``, signature
        with Remit's own keys, expiry, the required claims and, with ``check_revoked``, ``revoked_tokens``.
        Raises ``InvalidToken`` naming the check that failed."""
        audience = _audience(token)
        if audience is None:
            raise InvalidToken("the token is not a JWT with an audience (aud)")
        policy = VerifyPolicy.access_token(self.issuer, audience)
        is_revoked = self._revocations.is_revoked if check_revoked else None
        # a binding (cnf) is reported, not enforced: the holder's connection is not ours to see
        return verify_jwt(token, self._lookup, policy, self._clock.now(), is_revoked=is_revoked, binding=None)

    def _verify(self, token: str, *, check_revoked: bool) -> VerifiedToken | None:
        try:
            return self.verify(token, check_revoked=check_revoked)
        except (TokenError, JoseError):
            return None


def revoked_until(verified: VerifiedToken, now: datetime) -> datetime:
    """How long a revoked token's ``jti`` is kept: while verifiers still accept the token, until its expiry plus
    their clock leeway; the last second a NumericDate may name at most (past it, no date exists to store)."""
    seconds = min(verified.expires_at + CLOCK_LEEWAY.total_seconds(), MAX_NUMERIC_DATE)
    return datetime.fromtimestamp(seconds, tz=now.tzinfo)


def _audience(token: str) -> str | tuple[str, ...] | None:
    """The token's own ``aud``, read before verification: introspection answers for every audience."""
    try:
        claims = jose.parse_json_object(jose.parse_compact(token).payload, "claims set")
    except JoseError:
        return None
    aud = claims.get("aud")
    if isinstance(aud, str) and aud:
        return aud
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        return tuple(aud)
    return None
