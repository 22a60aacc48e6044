"""Token exchange (RFC 8693) for on-behalf-of delegation: an agent trades a token of the party it acts for (the
*subject*: a user, or an agent that delegates to it) for a Remit access token that says both who it acts for
(``sub``) and who acts (``act``), with rights no wider than either's.

The request (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``), in order of the checks:

* client authentication as at the token endpoint (the caller passes the authenticated agent: the *actor*);
  an ``actor_token`` (with ``actor_token_type``), when given, must prove the same agent: its own Remit access
  token, or a JWT assertion it signed (RFC 7523, one use only);
* ``subject_token`` and ``subject_token_type`` (``access_token`` or ``jwt``): a Remit access token, or a token of
  a configured trusted identity provider naming a registered, active user. Every failure here is
  ``invalid_request`` (RFC 8693 §2.2.2). A Remit token may be exchanged only by an agent it was meant for: the
  agent its ``may_act`` names, or else its current actor (re-targeting its own delegation) or the agent whose
  SPIFFE id is in its ``aud`` (the next hop). A token of another issuer may not carry an ``act`` chain;
* ``may_act`` (§4.4), when the subject token has one, must name the actor (``sub``, and ``iss`` if given);
* the delegation chain: every party in it (the subject, every actor) must still be active (agents and their
  owners); the actor may not be the subject; the chain may hold at most ``max_depth`` actors (§4.1 nesting:
  the current actor outermost, prior actors nested inside);
* exactly one target: ``resource`` (an absolute URI, RFC 8707) or ``audience`` (a logical name); more than one,
  or none, is ``invalid_target`` - the issued token has exactly that ``aud``;
* ``requested_token_type``: ``access_token`` or ``jwt`` (the same JWT either way) or absent;
* ``scope``: ``action:resource_id`` items (default: the subject token's own scope). What is issued is the
  intersection of the items requested, the subject token's ``scope`` (a Remit token's), what the policies allow
  the subject, what they allow the actor when acting for the users in the chain (``context.delegated_by``), and
  what they allow every prior actor. Items outside it are dropped (the answer's ``scope`` says what was granted,
  and the audit record what was dropped and why); nothing left is ``invalid_scope``.

The token never outlives the subject token, and is recorded (``token.exchange``) before it is handed out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from remit.audit.record import AUDIT_SCHEMA, Kind, timestamp
from remit.clock import Clock
from remit.errors import ConfigurationError
from remit.ids import new_id
from remit.policy.compile import AGENT, USER, resource_ref
from remit.policy.model import AuthzRequest, EntityRef
from remit.policy.values import entity_value
from remit.registry.models import AGENT_NAME, RESOURCE_ID, AgentStatus, UserStatus
from remit.settings import TrustedIssuer
from remit.store.repository import SqlStore
from remit.tokens import jose
from remit.tokens.dpop import DpopProof
from remit.tokens.endpoint import (
    ASSERTION_TYPE,
    MAX_SCOPE_ITEMS,
    ActiveKey,
    Pdp,
    RecordAudit,
    one_param,
    resource_param,
    sign_claims,
)
from remit.tokens.errors import InvalidKey, InvalidRequest, InvalidScope, InvalidTarget, JoseError, TokenError
from remit.tokens.remotejwks import Fetch, RemoteKeySet
from remit.tokens.verify import (
    Binding,
    IsRevoked,
    KeyLookup,
    KeySet,
    VerifiedToken,
    VerifyPolicy,
    verify_jwt,
)

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a token type URI
JWT_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a token type URI
#: what a subject or actor token may be, and what may be asked for (the same RFC 9068 JWT either way)
TOKEN_TYPES: Final = frozenset({ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE})
#: the deepest ``act`` nesting read from a token (a deeper one is refused before the depth limit is even applied)
MAX_ACT_NESTING: Final = 16
MAX_AUDIENCE_CHARS: Final = 2000

#: client authentication at the token endpoint: the agent a request's credentials prove (``TokenEndpoint``)
Authenticate = Callable[[Mapping[str, Sequence[str]]], str]


@dataclass(frozen=True, slots=True)
class TrustedIssuerKeys:
    """A configured identity provider: its ``iss``, its keys, the ``aud`` its tokens carry, the user claim."""

    issuer: str
    keys: KeyLookup
    audience: tuple[str, ...]
    user_claim: str = "sub"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")


def load_trusted(
    issuers: Sequence[TrustedIssuer], clock: Clock, fetch: Fetch | None = None
) -> tuple[TrustedIssuerKeys, ...]:
    """The configured identity providers with their keys: read now from a file or the settings, or fetched from a
    ``jwks_uri`` through ``fetch`` when first needed. ``ConfigurationError`` naming a bad one."""
    out: list[TrustedIssuerKeys] = []
    for item in issuers:
        if item.jwks_uri is not None:
            if fetch is None:
                raise ConfigurationError(
                    f"tokens.trusted_issuers: {item.issuer} names a jwks_uri, and nothing here can fetch it",
                    field="trusted_issuers",
                )
            remote = RemoteKeySet(item.jwks_uri, fetch, clock, refresh_seconds=item.jwks_refresh_seconds)
            out.append(TrustedIssuerKeys(item.issuer, remote, item.audience, item.user_claim, item.algorithms))
            continue
        try:
            document = item.jwks_file.read_bytes() if item.jwks_file is not None else item.jwks
            keys = KeySet.from_jwks(document or {})
        except (OSError, JoseError, InvalidKey, ConfigurationError) as exc:
            raise ConfigurationError(
                f"tokens.trusted_issuers: the keys of {item.issuer} cannot be read: {exc}", field="trusted_issuers"
            ) from exc
        out.append(TrustedIssuerKeys(item.issuer, keys, item.audience, item.user_claim, item.algorithms))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Party:
    """One identity in a delegation chain."""

    type: Literal["User", "Agent"]
    id: str

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.type, self.id)

    @property
    def label(self) -> str:
        return f"{self.type.lower()}:{self.id}"


@dataclass(frozen=True, slots=True)
class Subject:
    """A verified subject token: whom it speaks for, and the bounds it carries."""

    party: Party
    issuer: str
    expires_at: float
    scope: frozenset[str] | None  #: a Remit token's scope; None for another issuer's token (policies decide)
    actors: tuple[str, ...]  #: the token's ``act`` chain, current actor first
    act: Mapping[str, Any] | None  #: the token's ``act`` claim, to nest as it is
    may_act: Mapping[str, Any] | None
    audience: tuple[str, ...]
    jti: str | None


@dataclass(frozen=True, slots=True)
class ExchangedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str
    subject: Party
    actors: tuple[str, ...]
    audience: str
    jkt: str | None = None  #: the DPoP key the token is bound to (RFC 9449 §6.1)

    def body(self) -> dict[str, Any]:
        """The RFC 8693 §2.2.1 response (``token_type`` ``DPoP`` for a DPoP-bound token)."""
        return {
            "access_token": self.access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "DPoP" if self.jkt is not None else "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


class TokenExchange:
    """The token-exchange grant: checks the tokens and the chain, narrows the scope, signs the delegated token."""

    def __init__(
        self,
        *,
        issuer: str,
        store: SqlStore,
        pdp: Pdp,
        signing_keys: ActiveKey,
        own_keys: KeyLookup,
        is_revoked: IsRevoked,
        agent_assertion: Authenticate,
        clock: Clock,
        lifetime: int,
        max_depth: int,
        trusted: Sequence[TrustedIssuerKeys] = (),
        record: RecordAudit | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.token_endpoint = f"{self.issuer}/oauth/token"
        self._store = store
        self._pdp = pdp
        self._signing_keys = signing_keys
        self._own_keys = own_keys
        self._is_revoked = is_revoked
        self._agent_assertion = agent_assertion
        self._clock = clock
        self._lifetime = lifetime
        self._max_depth = max_depth
        self._trusted = {t.issuer: t for t in trusted}
        self._record = record

    def exchange(
        self,
        params: Mapping[str, Sequence[str]],
        client: str,
        proof: DpopProof | None = None,
        certificate: str | None = None,
    ) -> ExchangedToken:
        """Check a token-exchange request from the authenticated agent ``client`` and issue the delegated token,
        bound to the key of ``proof`` when the request carried a verified DPoP proof (RFC 9449), and to the client
        certificate whose ``x5t#S256`` is ``certificate`` when it came over mutual TLS (RFC 8705). A
        sender-constrained subject or actor token is accepted only with the same proof of possession. Raises a
        ``TokenError`` for every refusal."""
        requested_type = one_param(params, "requested_token_type")
        if requested_type is not None and requested_type not in TOKEN_TYPES:
            raise InvalidRequest("requested_token_type must be the access_token or jwt token type")
        binding = Binding(certificate, proof.jkt if proof is not None else None)
        actor = self._actor(params, client, binding)
        subject = self._subject(params, binding)
        audience = _target(params)
        self._may_exchange(subject, actor)
        actors = subject.actors if subject.actors[:1] == (actor,) else (actor, *subject.actors)
        if len(actors) > self._max_depth:
            raise InvalidRequest(f"the delegation chain would hold more than {self._max_depth} actors")
        users = self._check_parties(subject.party, actors)
        requested = self._requested(params, subject)
        granted, dropped = self._narrow(requested, subject, actors, users)
        if not granted:
            raise InvalidScope("nothing asked for is allowed to both the subject and every actor in the chain")
        act = subject.act if actors == subject.actors else _nest(actor, subject.act)
        return self._issue(subject, actors, act, audience, granted, dropped, binding)

    # -- the parties ------------------------------------------------------------------------------------------

    def _actor(self, params: Mapping[str, Sequence[str]], client: str, binding: Binding) -> str:
        token = one_param(params, "actor_token")
        token_type = one_param(params, "actor_token_type")
        if token is None:
            if token_type is not None:
                raise InvalidRequest("actor_token_type is given without an actor_token")
            return client
        if token_type not in TOKEN_TYPES:
            raise InvalidRequest("actor_token_type must be the access_token or jwt token type")
        if _unverified_claims(token).get("iss") == self.issuer:
            verified = self._verify_own(token, "actor_token", binding)
            if verified.claims.get("act") is not None or verified.claims.get("sub_type", "agent") != "agent":
                raise InvalidRequest("the actor_token must be the agent's own token, not a delegated one")
            agent = verified.subject
        else:  # a JWT the agent signed with one of its registered keys (RFC 7523 checks, one use only)
            try:
                agent = self._agent_assertion(
                    {"client_assertion_type": [ASSERTION_TYPE], "client_assertion": [token], "client_id": [client]}
                )
            except TokenError as exc:
                raise InvalidRequest(f"the actor_token is not acceptable: {exc.message}") from exc
        if agent != client:
            raise InvalidRequest("the actor_token names another agent than the authenticated client")
        return client

    def _subject(self, params: Mapping[str, Sequence[str]], binding: Binding) -> Subject:
        token = one_param(params, "subject_token")
        if not token:
            raise InvalidRequest("the subject_token parameter is required")
        if one_param(params, "subject_token_type") not in TOKEN_TYPES:
            raise InvalidRequest("subject_token_type must be the access_token or jwt token type")
        issuer = _unverified_claims(token).get("iss")
        if issuer == self.issuer:
            return self._own_subject(self._verify_own(token, "subject_token", binding))
        trusted = self._trusted.get(issuer) if isinstance(issuer, str) else None
        if trusted is None:
            raise InvalidRequest("the subject_token's issuer is not trusted")
        return self._foreign_subject(token, trusted)

    def _verify_own(self, token: str, name: str, binding: Binding) -> VerifiedToken:
        """A Remit access token; a sender-constrained one only with the request's proof of its key."""
        audience = _unverified_claims(token).get("aud")
        names = (audience,) if isinstance(audience, str) else tuple(audience) if isinstance(audience, list) else ()
        if not names or not all(isinstance(a, str) and a for a in names):
            raise InvalidRequest(f"the {name} has no valid 'aud' claim")
        policy = VerifyPolicy.access_token(self.issuer, names, failure=InvalidRequest)
        try:
            return verify_jwt(
                token, self._own_keys, policy, self._clock.now(), is_revoked=self._is_revoked, binding=binding
            )
        except TokenError as exc:
            raise InvalidRequest(f"the {name} is not acceptable: {exc.message}") from exc

    def _own_subject(self, verified: VerifiedToken) -> Subject:
        claims = verified.claims
        sub = str(claims["sub"])
        kind = claims.get("sub_type", "agent")
        if kind not in ("agent", "user"):
            raise InvalidRequest("the subject_token's sub_type is not agent or user")
        actors, act = _chain(claims.get("act"))
        scope = claims.get("scope")
        if not isinstance(scope, str):
            raise InvalidRequest("the subject_token has no scope")
        return Subject(
            party=Party("User" if kind == "user" else "Agent", sub),
            issuer=self.issuer,
            expires_at=verified.expires_at,
            scope=frozenset(scope.split()),
            actors=actors,
            act=act,
            may_act=_may_act(claims),
            audience=_audiences(claims),
            jti=verified.jti,
        )

    def _foreign_subject(self, token: str, trusted: TrustedIssuerKeys) -> Subject:
        audience = trusted.audience or (self.issuer, self.token_endpoint)
        policy = VerifyPolicy(
            issuer=trusted.issuer,
            audience=audience,
            algorithms=trusted.algorithms,
            typ=None,
            required_claims=("iss", "aud", "exp", trusted.user_claim),
            failure=InvalidRequest,
        )
        try:
            verified = verify_jwt(token, trusted.keys, policy, self._clock.now())
        except TokenError as exc:
            raise InvalidRequest(f"the subject_token is not acceptable: {exc.message}") from exc
        claims = verified.claims
        if "act" in claims:
            raise InvalidRequest("a delegated token of another issuer cannot be exchanged")
        user = claims.get(trusted.user_claim)
        if not isinstance(user, str) or not user:
            raise InvalidRequest(f"the subject_token's '{trusted.user_claim}' claim is not a user id")
        return Subject(
            party=Party("User", user),
            issuer=trusted.issuer,
            expires_at=verified.expires_at,
            scope=None,
            actors=(),
            act=None,
            may_act=_may_act(claims),
            audience=_audiences(claims),
            jti=verified.jti,
        )

    def _may_exchange(self, subject: Subject, actor: str) -> None:
        """RFC 8693 §4.4 ``may_act``; otherwise a Remit token must have been meant for this actor."""
        party = subject.party
        if party == Party("Agent", actor):
            raise InvalidRequest("an agent cannot act on behalf of itself; use the client_credentials grant")
        if subject.may_act is not None:
            named = subject.may_act.get("sub")
            if named not in (actor, self._spiffe_id(actor)):
                raise InvalidRequest("the subject_token's may_act does not name this agent")
            if "iss" in subject.may_act and subject.may_act["iss"] != self.issuer:
                raise InvalidRequest("the subject_token's may_act names an agent of another issuer")
            return
        if subject.issuer != self.issuer:
            return  # a user's token from a trusted provider: the policies decide what an agent may do with it
        if subject.actors[:1] == (actor,):
            return  # the current actor re-targets its own delegated token
        if self._spiffe_id(actor) in subject.audience:
            return  # the token was addressed to this agent: the next hop
        raise InvalidRequest("the subject_token was not issued to this agent (its aud, act or may_act)")

    def _spiffe_id(self, agent: str) -> str | None:
        with self._store.transaction(readonly=True) as tx:
            found = tx.get_agent(agent)
        return found.spiffe_id if found is not None else None

    def _check_parties(self, subject: Party, actors: tuple[str, ...]) -> tuple[str, ...]:
        """Every party in the chain is active (agents, their owners, users); the users in the chain."""
        if len(set(actors)) != len(actors) or (subject.type == AGENT and subject.id in actors):
            raise InvalidRequest("the delegation chain would hold the same agent twice")
        users: list[str] = []
        with self._store.transaction(readonly=True) as tx:
            parties = [subject, *(Party("Agent", a) for a in actors)]
            for party in parties:
                if party.type == USER:
                    user = tx.get_user(party.id)
                    if user is None or user.status is not UserStatus.ACTIVE:
                        raise InvalidRequest(f"{party.label} in the delegation chain is not an active user")
                    users.append(party.id)
                    continue
                agent = tx.get_agent(party.id) if AGENT_NAME.fullmatch(party.id) else None
                owner = tx.get_user(agent.owner) if agent is not None else None
                if agent is None or agent.status is not AgentStatus.ACTIVE:
                    raise InvalidRequest(f"{party.label} in the delegation chain is not an active agent")
                if owner is None or owner.status is not UserStatus.ACTIVE:
                    raise InvalidRequest(f"the owner of {party.label} in the delegation chain is disabled")
        return tuple(users)

    # -- the scope --------------------------------------------------------------------------------------------

    def _requested(self, params: Mapping[str, Sequence[str]], subject: Subject) -> tuple[str, ...]:
        raw = one_param(params, "scope")
        if raw is None or not raw.strip():
            if subject.scope is None:
                raise InvalidScope("a scope is required: space-separated action:resource items")
            return tuple(sorted(subject.scope))
        items = tuple(dict.fromkeys(raw.split()))
        if len(items) > MAX_SCOPE_ITEMS:
            raise InvalidScope(f"at most {MAX_SCOPE_ITEMS} scope items")
        return items

    def _narrow(
        self, requested: tuple[str, ...], subject: Subject, actors: tuple[str, ...], users: tuple[str, ...]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """The requested items every bound allows, and why each other item was dropped."""
        dropped: dict[str, str] = {}
        refs: list[tuple[str, str, EntityRef]] = []
        with self._store.transaction(readonly=True) as tx:
            for item in requested:
                action, sep, resource_id = item.partition(":")
                well_formed = sep and action.isprintable() and RESOURCE_ID.fullmatch(resource_id)
                resource = tx.get_resource(resource_id) if well_formed else None
                if resource is None:
                    raise InvalidScope("every scope item must be action:resource with a registered resource")
                if subject.scope is not None and item not in subject.scope:
                    dropped[item] = "not in the subject_token's scope"
                    continue
                refs.append((item, action, resource_ref(resource)))
        delegated = {"delegated_by": [entity_value(USER, u) for u in users]} if users else {}
        granted: list[str] = []
        for item, action, ref in refs:
            if not self._pdp.evaluate(AuthzRequest(subject.party.ref, action, ref)).allowed:
                dropped[item] = f"not allowed to {subject.party.label}"
                continue
            refused = next(
                (
                    agent
                    for agent in actors
                    if not self._pdp.evaluate(
                        AuthzRequest(EntityRef(AGENT, agent), action, ref, dict(delegated))
                    ).allowed
                ),
                None,
            )
            if refused is not None:
                dropped[item] = f"not allowed to agent:{refused}"
                continue
            granted.append(item)
        return tuple(granted), dropped

    # -- the token --------------------------------------------------------------------------------------------

    def _issue(
        self,
        subject: Subject,
        actors: tuple[str, ...],
        act: Mapping[str, Any] | None,
        audience: str,
        granted: tuple[str, ...],
        dropped: Mapping[str, str],
        binding: Binding,
    ) -> ExchangedToken:
        key = self._signing_keys.active()
        now = self._clock.now()
        issued_at = int(now.timestamp())
        expires_at = min(issued_at + self._lifetime, int(subject.expires_at))
        if expires_at <= issued_at:
            raise InvalidRequest("the subject_token expires too soon to be exchanged")
        jti = new_id("at")
        scope = " ".join(granted)
        client = actors[0]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject.party.id,
            "sub_type": subject.party.type.lower(),
            "aud": audience,
            "client_id": client,
            "scope": scope,
            "iat": issued_at,
            "exp": expires_at,
            "jti": jti,
            "act": dict(act) if act is not None else {"sub": client},
        }
        cnf = {"jkt": binding.dpop_jkt, "x5t#S256": binding.certificate_thumbprint}
        cnf = {k: v for k, v in cnf.items() if v is not None}
        if cnf:
            claims["cnf"] = cnf
        token = sign_claims(key, claims)
        if self._record is not None:  # before the token leaves: an unrecorded token is never handed out
            self._record(
                {
                    "schema": AUDIT_SCHEMA,
                    "id": jti,
                    "at": timestamp(now),
                    "kind": Kind.TOKEN.value,
                    "action": "token.exchange",
                    "source": "token",
                    "actor": f"agent:{client}",
                    "principal": {
                        "type": "Agent",
                        "id": client,
                        "on_behalf_of": [*(f"agent:{a}" for a in reversed(actors[1:])), subject.party.label],
                    },
                    "resource": {"type": "audience", "id": audience},
                    "context": {
                        "scope": scope,
                        "dropped": dict(dropped),
                        "expires_in": expires_at - issued_at,
                        "kid": key.kid,
                        "subject_issuer": subject.issuer,
                        "subject_jti": subject.jti,
                        "depth": len(actors),
                    }
                    | ({"dpop_jkt": binding.dpop_jkt} if binding.dpop_jkt is not None else {})
                    | ({"x5t#S256": binding.certificate_thumbprint} if binding.certificate_thumbprint else {}),
                }
            )
        return ExchangedToken(
            token, expires_at - issued_at, scope, jti, subject.party, actors, audience, binding.dpop_jkt
        )


def _target(params: Mapping[str, Sequence[str]]) -> str:
    """Exactly one target: one ``resource`` (RFC 8707) or one ``audience`` (RFC 8693 §2.1)."""
    resources = params.get("resource") or []
    audiences = params.get("audience") or []
    if len(resources) + len(audiences) != 1:
        raise InvalidTarget("exactly one resource or audience parameter is required: the token's one audience")
    if resources:
        return resource_param(params)
    audience = audiences[0]
    if not audience.strip() or not audience.isprintable() or len(audience) > MAX_AUDIENCE_CHARS:
        raise InvalidTarget("the audience must be a printable name of at most 2000 characters")
    return audience


def act_chain(act: object) -> tuple[str, ...]:
    """The actors of an ``act`` claim (RFC 8693 §4.1), current first; ``InvalidRequest`` when malformed."""
    return _chain(act)[0]


def _chain(act: object) -> tuple[tuple[str, ...], Mapping[str, Any] | None]:
    """The actors of an ``act`` claim, current first, and the claim; refuses a malformed or over-deep one."""
    if act is None:
        return (), None
    actors: list[str] = []
    node = act
    while node is not None:
        if not isinstance(node, Mapping) or not isinstance(node.get("sub"), str):
            raise InvalidRequest("the subject_token's act claim is malformed")
        actors.append(node["sub"])
        if len(actors) > MAX_ACT_NESTING:
            raise InvalidRequest("the subject_token's act claim is nested too deeply")
        node = node.get("act")
    assert isinstance(act, Mapping)
    return tuple(actors), act


def _nest(actor: str, prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """RFC 8693 §4.1: the current actor outermost, the prior chain nested inside it."""
    return {"sub": actor, "act": dict(prior)} if prior is not None else {"sub": actor}


def _may_act(claims: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = claims.get("may_act")
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("sub"), str):
        raise InvalidRequest("the subject_token's may_act claim is malformed")
    return value


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    return tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else ()


def _unverified_claims(token: str) -> dict[str, Any]:
    """A token's claims before verification: only to choose who verifies it."""
    try:
        return jose.parse_json_object(jose.parse_compact(token).payload, "claims set")
    except JoseError as exc:
        raise InvalidRequest(f"the token is malformed: {exc.message}") from exc
