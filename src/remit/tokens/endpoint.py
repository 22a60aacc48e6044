"""The token endpoint's grant: OAuth 2.0 client credentials (RFC 6749 §4.4) with ``private_key_jwt`` client
authentication (RFC 7523 §2.2), a resource indicator (RFC 8707) and scopes checked with the policy engine; it
issues RFC 9068 JWT access tokens signed with the active signing key.

The request, in order of the checks:

* ``grant_type`` ``client_credentials`` (absent: ``invalid_request``; another: ``unsupported_grant_type``);
* ``client_assertion_type`` ``urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and ``client_assertion``,
  a JWT whose ``iss`` and ``sub`` are the agent's name, ``aud`` the token endpoint or the issuer, at most five
  minutes of lifetime, a ``jti`` never seen before, signed by one of the agent's unrevoked keys (otherwise
  ``invalid_client``, 401); ``client_id``, if given, must be the same name. Or, discouraged, a legacy API key as the
  client secret (``client_secret_basic`` or ``client_secret_post``, RFC 6749 §2.3.1): see ``_legacy_client``;
* or, with none of those and a TLS client certificate, ``tls_client_auth`` (RFC 8705 §2.1.2): ``client_id`` names
  the agent, and the certificate must be one Remit's CA issued to it, unrevoked and unexpired (otherwise
  ``invalid_client``); the token is bound to it (``cnf.x5t#S256``, RFC 8705 §3). A certificate presented with
  another client authentication must pass the same checks for the same agent, and binds the token too;
* the agent must be active and its owner an active user (otherwise ``invalid_client``);
* ``resource``: exactly one absolute URI without a fragment, the token's ``aud`` (absent, repeated or malformed:
  ``invalid_target``, as RFC 8707 §2 says of a resource that is "invalid, missing, unknown, or malformed");
* ``scope``: space-separated ``action:resource_id`` items; each resource must be in the registry and the policy
  engine must allow the agent the action on it (otherwise ``invalid_scope``). There is no default scope;
* a ``DPoP`` header (RFC 9449 §5): a valid proof for ``POST`` to the token endpoint binds the token to its key
  (``cnf.jkt``, ``token_type`` ``DPoP``); an invalid one is ``invalid_dpop_proof``. Without one the token is a
  bearer token, unless the agent's client metadata says ``dpop_bound_access_tokens`` (RFC 9449 §5.2): then the
  request is refused with ``invalid_dpop_proof``.

Every refusal is a ``TokenError``; its description names the check, never a value read from the request.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from remit.audit.record import AUDIT_SCHEMA, Kind, timestamp
from remit.clock import Clock
from remit.ids import new_id
from remit.policy.compile import resource_ref
from remit.policy.model import AuthzRequest, Decision, EntityRef
from remit.registry.models import AGENT_NAME, RESOURCE_ID, AgentStatus, UserStatus
from remit.store.agentkeys import AgentKeyStore
from remit.store.repository import SqlStore
from remit.tokens import jose
from remit.tokens.agentkeys import AGENT_KEY_ALGORITHMS
from remit.tokens.agentkeyservice import AgentKeyService
from remit.tokens.certservice import CertificateService
from remit.tokens.clientsecret import client_secret
from remit.tokens.clientservice import AgentClientService
from remit.tokens.dpop import DpopProof, DpopVerifier
from remit.tokens.errors import (
    InvalidClient,
    InvalidDpopProof,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    JoseError,
    UnsupportedGrantType,
)
from remit.tokens.keys import SigningKey
from remit.tokens.legacykeys import LegacyApiKey
from remit.tokens.verify import KeyLookup, KeySet, VerifyPolicy, verify_jwt

GRANT_TYPE: Final = "client_credentials"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: the longest ``jti`` stored as is; a longer one is stored as its SHA-256
MAX_JTI_CHARS: Final = 200
MAX_SCOPE_ITEMS: Final = 32


#: writes an audit record and returns once it is durable (raises ``AuditUnavailable`` when it cannot be)
RecordAudit = Callable[[dict[str, Any]], None]


class Pdp(Protocol):
    def evaluate(self, request: AuthzRequest) -> Decision: ...


class ActiveKey(Protocol):
    def active(self) -> SigningKey: ...


class LegacyKeys(Protocol):
    def authenticate(self, client_id: str, value: str) -> LegacyApiKey: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str
    agent: str
    audience: str
    jkt: str | None = None  #: the DPoP key the token is bound to (RFC 9449 §6.1)
    x5t_s256: str | None = None  #: the client certificate the token is bound to (RFC 8705 §3.1)

    @property
    def token_type(self) -> str:
        return "DPoP" if self.jkt is not None else "Bearer"

    def body(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 response (RFC 9449 §5.1: ``token_type`` ``DPoP`` for a bound token)."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


class StoreReplayGuard:
    """A ``ReplayGuard`` over ``assertion_jtis``: shared by every server of one store, atomic by its primary key."""

    def __init__(self, store: AgentKeyStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        if len(jti) > MAX_JTI_CHARS or not (jti.isascii() and jti.isprintable()):  # NUL cannot reach PostgreSQL
            jti = "sha256:" + hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
        until = datetime.fromtimestamp(expires_at, tz=self._clock.now().tzinfo)
        return self._store.first_use(issuer, jti, until, self._clock.now())


#: the keys an agent publishes at the ``jwks_uri`` it registered, or None when it registered none
ClientKeys = Callable[[str], KeyLookup | None]


class _AgentKeys:
    """The ``KeyLookup`` of one agent: its unrevoked registered keys, then the keys at its ``jwks_uri`` if any."""

    def __init__(self, keys: AgentKeyService, agent: str, published: ClientKeys | None) -> None:
        self._keys = keys
        self._agent = agent
        self._published = published

    def find(self, kid: str) -> jose.PublicKey | None:
        found = self._keys.usable(self._agent, kid)
        if found is None and self._published is not None:
            remote = self._published(self._agent)
            found = remote.find(kid) if remote is not None else None
        return found


_NO_KEYS: Final = KeySet(())


class TokenEndpoint:
    """``client_credentials`` with ``private_key_jwt``: checks a request, and signs the access token."""

    def __init__(
        self,
        *,
        issuer: str,
        store: SqlStore,
        agent_keys: AgentKeyService,
        replay: StoreReplayGuard,
        pdp: Pdp,
        signing_keys: ActiveKey,
        clock: Clock,
        lifetime: int,
        clients: AgentClientService,
        dpop: DpopVerifier,
        certificates: CertificateService | None = None,
        record: RecordAudit | None = None,
        legacy_keys: LegacyKeys | None = None,
        client_keys: ClientKeys | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.token_endpoint = f"{self.issuer}/oauth/token"
        self._store = store
        self._agent_keys = agent_keys
        self._replay = replay
        self._pdp = pdp
        self._signing_keys = signing_keys
        self._clock = clock
        self._lifetime = lifetime
        self._clients = clients
        self.dpop = dpop
        self._certificates = certificates
        self._record = record
        self._legacy_keys = legacy_keys
        self._client_keys = client_keys

    def client_credentials(
        self,
        params: Mapping[str, Sequence[str]],
        dpop: Sequence[str] = (),
        authorization: str | None = None,
        client_certificate: bytes | None = None,
    ) -> IssuedToken:
        """Check the request and issue a token; ``dpop`` holds the request's ``DPoP`` header values, ``authorization``
        its ``Authorization`` header (for ``client_secret_basic``), ``client_certificate`` the DER certificate the
        client presented on the TLS connection. Raises a ``TokenError`` for every refusal."""
        grant = _one(params, "grant_type")
        if grant is None:
            raise InvalidRequest("the grant_type parameter is required")
        if grant != GRANT_TYPE:
            raise UnsupportedGrantType(
                "the grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:token-exchange"
            )
        legacy = self._legacy_client(params, authorization)
        assertion = _one(params, "client_assertion") is not None or _one(params, "client_assertion_type") is not None
        if legacy is not None:
            agent = legacy[0]
        elif client_certificate is not None and not assertion:
            agent = self._tls_client(params)
        else:
            agent = self._authenticate(params)
        x5t = self._bind_certificate(agent, client_certificate) if client_certificate is not None else None
        proof = self.client_proof(agent, dpop)
        audience = _resource(params)
        scopes = self._scopes(agent, params)
        return self._issue(agent, audience, scopes, proof, x5t, flags=legacy[1] if legacy is not None else None)

    def delegating_client(
        self, params: Mapping[str, Sequence[str]], client_certificate: bytes | None = None, *extra_audiences: str
    ) -> tuple[str, str | None]:
        """For token exchange and revocation: the agent authenticated by ``private_key_jwt`` or mutual TLS (never a
        client secret), and the ``x5t#S256`` of the client certificate the token is to be bound to (None without
        one); ``extra_audiences`` as for ``authenticate_client``."""
        assertion = _one(params, "client_assertion") is not None or _one(params, "client_assertion_type") is not None
        if client_certificate is not None and not assertion:
            agent = self._tls_client(params)
        else:
            agent = self._authenticate(params, extra_audiences)
        x5t = self._bind_certificate(agent, client_certificate) if client_certificate is not None else None
        return agent, x5t

    def client_proof(self, agent: str, values: Sequence[str]) -> DpopProof | None:
        """``dpop_proof``, and ``InvalidDpopProof`` when ``agent`` must use DPoP and sent no proof (every grant)."""
        proof = self.dpop_proof(values)
        if proof is None and self._clients.requires_dpop(agent):
            raise InvalidDpopProof("this client must use DPoP: send a DPoP proof in the DPoP header (RFC 9449)")
        return proof

    def dpop_proof(self, values: Sequence[str]) -> DpopProof | None:
        """The DPoP proof of a token request (RFC 9449 §5), checked for ``POST`` to the token endpoint's public URL;
        None without one. Raises ``InvalidDpopProof`` (400)."""
        if not values:
            return None
        return self.dpop.verify(values, method="POST", url=self.token_endpoint)

    def _legacy_client(
        self, params: Mapping[str, Sequence[str]], authorization: str | None
    ) -> tuple[str, dict[str, Any]] | None:
        """The agent a legacy API key authenticates, and what the token's audit record says about it; None when the
        request carries no client secret. Slow (argon2): the route runs this off the event loop."""
        presented = client_secret(params, authorization)
        if presented is None:
            return None
        if self._legacy_keys is None:
            raise InvalidClient("client secrets are not accepted here", challenge=presented.challenge)
        try:
            key = self._legacy_keys.authenticate(presented.client_id, presented.secret)
        except InvalidClient as exc:
            if presented.challenge is not None:
                exc.challenge = presented.challenge
            raise
        # WARNING: member names the audit masker leaves alone (it masks *credential*, *auth, *api_key)
        return key.agent, {"auth_method": presented.method, "legacy": True, "key_id": key.id}

    # -- the checks ------------------------------------------------------------------------------------------

    def authenticate_client(self, params: Mapping[str, Sequence[str]], *extra_audiences: str) -> str:
        """The agent a request's ``private_key_jwt`` assertion authenticates (its name); ``extra_audiences`` are
        accepted as the assertion's ``aud`` besides the token endpoint and the issuer (the revocation endpoint).
        Raises ``InvalidClient`` (or ``InvalidRequest`` for a repeated parameter)."""
        return self._authenticate(params, extra_audiences)

    def _authenticate(self, params: Mapping[str, Sequence[str]], extra_audiences: tuple[str, ...] = ()) -> str:
        if _one(params, "client_assertion_type") != ASSERTION_TYPE:
            raise InvalidClient(f"client authentication needs client_assertion_type {ASSERTION_TYPE}")
        assertion = _one(params, "client_assertion")
        if not assertion:
            raise InvalidClient("client authentication needs a client_assertion")
        client_id = _one(params, "client_id") or _claimed_issuer(assertion)
        agent = owner = None
        if AGENT_NAME.fullmatch(client_id):  # anything else names no agent (and never reaches the store)
            with self._store.transaction(readonly=True) as tx:
                agent = tx.get_agent(client_id)
                owner = tx.get_user(agent.owner) if agent is not None else None
        policy = VerifyPolicy.client_assertion(
            client_id,
            (self.token_endpoint, self.issuer, *extra_audiences),
            algorithms=tuple(sorted(AGENT_KEY_ALGORITHMS)),
        )
        # an unknown agent has no keys: refused exactly like an unknown key, so that names cannot be probed
        lookup = _AgentKeys(self._agent_keys, client_id, self._client_keys) if agent is not None else _NO_KEYS
        verify_jwt(assertion, lookup, policy, self._clock.now(), replay=self._replay)
        if agent is None or owner is None:  # pragma: no cover - verification cannot pass without the agent's key
            raise InvalidClient("the client is unknown")
        if agent.status is not AgentStatus.ACTIVE:
            raise InvalidClient(f"the client is {agent.status.value}")
        if owner.status is not UserStatus.ACTIVE:
            raise InvalidClient("the client's owner is disabled")
        return client_id

    def _tls_client(self, params: Mapping[str, Sequence[str]]) -> str:
        """``tls_client_auth`` (RFC 8705 §2.1.2): the agent ``client_id`` names; its certificate is checked by
        ``_bind_certificate``."""
        client_id = _one(params, "client_id")
        if not client_id:
            raise InvalidClient("mutual-TLS client authentication (tls_client_auth) needs the client_id parameter")
        agent = owner = None
        if AGENT_NAME.fullmatch(client_id):
            with self._store.transaction(readonly=True) as tx:
                agent = tx.get_agent(client_id)
                owner = tx.get_user(agent.owner) if agent is not None else None
        if agent is None or owner is None:
            # the same words as a certificate of another agent: names cannot be probed
            raise InvalidClient("the client certificate was issued to another client")
        return client_id

    def _bind_certificate(self, agent_name: str, der: bytes) -> str:
        """The ``x5t#S256`` of the client certificate, checked (again, after the TLS layer) to be one Remit's CA
        issued to ``agent_name``, unrevoked and valid now; then the agent's and the owner's status."""
        if self._certificates is None:
            raise InvalidClient("mutual-TLS client authentication is not enabled on this server")
        with self._store.transaction(readonly=True) as tx:
            agent = tx.get_agent(agent_name)
            owner = tx.get_user(agent.owner) if agent is not None else None
        if agent is None or owner is None:  # pragma: no cover - authenticated a moment ago
            raise InvalidClient("the client certificate was issued to another client")
        thumbprint = self._certificates.authenticate(der, agent)
        if agent.status is not AgentStatus.ACTIVE:
            raise InvalidClient(f"the client is {agent.status.value}")
        if owner.status is not UserStatus.ACTIVE:
            raise InvalidClient("the client's owner is disabled")
        return thumbprint

    def _scopes(self, agent: str, params: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        raw = _one(params, "scope")
        if raw is None or not raw.strip():
            raise InvalidScope("a scope is required: space-separated action:resource items")
        items = tuple(dict.fromkeys(raw.split()))
        if len(items) > MAX_SCOPE_ITEMS:
            raise InvalidScope(f"at most {MAX_SCOPE_ITEMS} scope items")
        refs: list[tuple[str, EntityRef]] = []
        with self._store.transaction(readonly=True) as tx:
            for item in items:
                action, sep, resource_id = item.partition(":")
                well_formed = sep and action.isprintable() and RESOURCE_ID.fullmatch(resource_id)
                resource = tx.get_resource(resource_id) if well_formed else None
                if resource is None:
                    raise InvalidScope("every scope item must be action:resource with a registered resource")
                refs.append((action, resource_ref(resource)))
        principal = EntityRef("Agent", agent)
        for action, ref in refs:
            if not self._pdp.evaluate(AuthzRequest(principal, action, ref)).allowed:
                raise InvalidScope("the policies do not allow every scope asked for")
        return items

    def _issue(
        self,
        agent: str,
        audience: str,
        scopes: tuple[str, ...],
        proof: DpopProof | None,
        x5t: str | None = None,
        *,
        flags: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        key = self._signing_keys.active()
        now = int(self._clock.now().timestamp())
        jti = new_id("at")
        scope = " ".join(scopes)
        context: dict[str, Any] = {"scope": scope, "expires_in": self._lifetime, "kid": key.kid, **(flags or {})}
        cnf: dict[str, str] = {}
        if proof is not None:
            cnf["jkt"] = proof.jkt
            context["dpop_jkt"] = proof.jkt
        if x5t is not None:
            cnf["x5t#S256"] = x5t  # RFC 8705 §3.1
            context["x5t#S256"] = x5t
        token = sign_access_token(
            key,
            issuer=self.issuer,
            agent=agent,
            audience=audience,
            scope=scope,
            iat=now,
            lifetime=self._lifetime,
            jti=jti,
            cnf=cnf or None,
        )
        if self._record is not None:  # before the token leaves: an unrecorded token is never handed out
            self._record(
                {
                    "schema": AUDIT_SCHEMA,
                    "id": jti,
                    "at": timestamp(self._clock.now()),
                    "kind": Kind.TOKEN.value,
                    "action": "token.issue",
                    "source": "token",
                    "actor": f"agent:{agent}",
                    "principal": {"type": "Agent", "id": agent},
                    "resource": {"type": "audience", "id": audience},
                    "context": context,
                }
            )
        jkt = proof.jkt if proof else None
        return IssuedToken(token, self._lifetime, scope, jti, agent, audience, jkt, x5t)


def sign_access_token(
    key: SigningKey,
    *,
    issuer: str,
    agent: str,
    audience: str,
    scope: str,
    iat: int,
    lifetime: int,
    jti: str,
    cnf: Mapping[str, str] | None = None,
) -> str:
    """An RFC 9068 access token (``typ`` ``at+jwt``) for ``agent``, signed with ``key``: what the token endpoint
    issues once every check has passed (the claims, their JSON, the signature; no store, no policy). ``cnf`` binds
    it to a key (RFC 7800; ``{"jkt": ...}`` for DPoP, RFC 9449 §6.1)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": agent,
        "aud": audience,
        "client_id": agent,
        "scope": scope,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti,
    }
    if cnf:
        claims["cnf"] = dict(cnf)
    return sign_claims(key, claims)


def sign_claims(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """An RFC 9068 access token: ``claims`` signed with ``key``, header ``typ`` ``at+jwt``."""
    signing_input = _header_segment(key.alg, key.kid) + _b64(_json(claims))
    return (signing_input + b"." + _b64(key.sign(signing_input))).decode("ascii")


@functools.lru_cache(maxsize=16)
def _header_segment(alg: str, kid: str) -> bytes:
    """The encoded protected header and its dot: the same for every token one key signs."""
    return _b64(_json({"alg": alg, "kid": kid, "typ": "at+jwt"})) + b"."


def resource_param(params: Mapping[str, Sequence[str]]) -> str:
    """The one RFC 8707 ``resource`` of a request; ``invalid_target`` when absent, repeated or malformed."""
    return _resource(params)


def one_param(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """A form parameter's value; a repeated one is refused with ``invalid_request`` (RFC 6749 §3.2)."""
    return _one(params, name)


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """A parameter's value; a repeated one is refused (RFC 6749 §3.2)."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"the {name} parameter is repeated")
    return values[0]


def _resource(params: Mapping[str, Sequence[str]]) -> str:
    values = params.get("resource") or []
    if len(values) != 1:
        raise InvalidTarget("exactly one resource parameter is required (RFC 8707)")
    value = values[0]
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.netloc or parts.fragment or len(value) > 2000:
        raise InvalidTarget("the resource must be an absolute URI without a fragment")
    return value


def _claimed_issuer(assertion: str) -> str:
    """The assertion's ``iss``, read before it is verified: only to know whose keys verify it."""
    try:
        jws = jose.parse_compact(assertion)
        claims = jose.parse_json_object(jws.payload, "claims set")
    except JoseError as exc:
        raise InvalidClient(exc.message) from exc
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise InvalidClient("the client assertion has no 'iss'")
    return iss


def _compact_json() -> Callable[[Mapping[str, Any]], str]:
    """Compact, ASCII-only JSON (what ``json.dumps(value, separators=(",", ":"))`` writes), with the C encoder built
    once rather than per call as ``json.dumps`` and ``JSONEncoder.encode`` do: a token is signed on every request."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the accelerator
        return json.JSONEncoder(separators=(",", ":"), check_circular=False).encode

    def refuse(value: object) -> object:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    encode = make(None, refuse, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


_compact: Final = _compact_json()
_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def _json(value: Mapping[str, Any]) -> bytes:
    return _compact(value).encode("ascii")


def _b64(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")
