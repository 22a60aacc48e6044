"""RFC 7591 dynamic client registration: with an initial access token, a client registers itself as an agent,
with its owner and its public keys, and then authenticates at the token endpoint with ``private_key_jwt``.

https://www.rfc-editor.org/rfc/rfc7591

The client metadata Remit reads (§2), and what it does with them:

* ``client_name`` (required): the agent's name, a valid and unused agent name; it is also the ``client_id``;
* ``owner`` (required, a Remit extension): the accountable human, an active user; equal to the initial access
  token's owner unless the token was minted for any owner;
* ``jwks`` (an inline JWK Set) or ``jwks_uri``: exactly one of them for ``private_key_jwt``, optional for
  ``tls_client_auth``; every key is checked as ``remit agent key add`` checks it. Inline keys are registered as agent
  keys. A ``jwks_uri`` is fetched now (a registration whose keys cannot be fetched is refused) and stored as the
  agent's client metadata: the token endpoint then takes the keys published there, refreshed as the client rotates
  them (``remit.tokens.remotejwks``), so a key the client withdraws stops working;
* ``token_endpoint_auth_method``: ``private_key_jwt`` (the default here), or ``tls_client_auth`` (RFC 8705 §2.1.2)
  where the server takes client certificates: the agent then authenticates with a certificate from Remit's CA,
  which names it by its SPIFFE id in the URI SAN, so ``tls_client_auth_san_uri`` is that id (filled in when absent)
  and the other ``tls_client_auth_*`` members are refused;
* ``grant_types``: ``client_credentials`` and ``urn:ietf:params:oauth:grant-type:token-exchange`` (default: the
  first); ``scope``: kept in the answer only, since scopes are decided by the policies at each token request;
* ``dpop_bound_access_tokens`` (RFC 9449 §5.2): stored as the agent's client metadata; when true, its token
  requests without a DPoP proof are refused;
* ``purpose``, ``team``, ``environment`` (Remit extensions): copied onto the agent.

Other metadata are ignored, as §2 asks. ``redirect_uris`` and ``response_types`` must be empty (Remit has no
redirect-based grant), and software statements are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import Clock
from remit.errors import Conflict, NotFound, RemitError, ValidationError
from remit.registry.models import AGENT_NAME, spiffe_id
from remit.registry.service import AgentDraft, RegistryService
from remit.tokens import jose
from remit.tokens.agentkeys import AGENT_KEY_ALGORITHMS, MAX_ACTIVE_KEYS, accept_jwk
from remit.tokens.agentkeyservice import AgentKeyService
from remit.tokens.clientservice import AgentClientService
from remit.tokens.errors import InvalidClientMetadata, InvalidRedirectUri, InvalidSoftwareStatement
from remit.tokens.registrationtokenservice import RegistrationTokenService

AUTH_METHOD: Final = "private_key_jwt"
TLS_CLIENT_AUTH: Final = "tls_client_auth"
#: the RFC 8705 §2.1.2 subject members other than the URI SAN: Remit's CA names an agent by its URI SAN only
_OTHER_TLS_SUBJECTS: Final = (
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
)
CLIENT_CREDENTIALS: Final = "client_credentials"
TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type
GRANT_TYPES: Final = (CLIENT_CREDENTIALS, TOKEN_EXCHANGE)

#: fetches a ``jwks_uri`` and returns its JSON object; raises ``RemitError`` with a message saying why it could not
FetchJwks = Callable[[str], Mapping[str, Any]]


class ClientRegistration:
    """``POST /oauth/register``: checks the initial access token and the metadata, then registers the agent (through
    the registry, so that it is validated and audited) and its keys."""

    def __init__(
        self,
        *,
        tokens: RegistrationTokenService,
        registry: RegistryService,
        agent_keys: AgentKeyService,
        clients: AgentClientService,
        clock: Clock,
        fetch_jwks: FetchJwks,
        trust_domain: str,
        mtls: bool = False,
    ) -> None:
        """``mtls``: whether client certificates reach the token endpoint (then ``tls_client_auth`` is offered)."""
        self._tokens = tokens
        self._registry = registry
        self._agent_keys = agent_keys
        self._clients = clients
        self._clock = clock
        self._fetch_jwks = fetch_jwks
        self._trust_domain = trust_domain
        self._mtls = mtls

    def register(self, bearer: str | None, metadata: object) -> dict[str, Any]:
        """Register a client; return the RFC 7591 §3.2.1 answer. Raises ``InvalidToken`` (401) for the initial access
        token, ``InvalidClientMetadata``, ``InvalidRedirectUri`` or ``InvalidSoftwareStatement`` (400)."""
        token = self._tokens.authenticate(bearer)
        m = _Metadata(metadata)
        name, owner = m.string("client_name", required=True), m.string("owner", required=True)
        if not AGENT_NAME.fullmatch(name):
            raise InvalidClientMetadata("client_name must be an agent name: lowercase letters, digits, '.', '_', '-'")
        if token.owner is not None and owner != token.owner:
            raise InvalidClientMetadata(f"owner: this initial access token registers agents for {token.owner} only")
        answer = m.answer(TLS_CLIENT_AUTH if self._mtls else None)
        if answer["token_endpoint_auth_method"] == TLS_CLIENT_AUTH:
            expected = spiffe_id(self._trust_domain, name)
            if m.string("tls_client_auth_san_uri", limit=400) not in ("", expected):
                raise InvalidClientMetadata(f"tls_client_auth_san_uri must be the agent's SPIFFE id, {expected}")
            answer["tls_client_auth_san_uri"] = expected
            keys = self._keys(m) if m.raw("jwks") is not None or m.raw("jwks_uri") is not None else []
        else:
            keys = self._keys(m)
        p = AdminPrincipal(actor=f"registration_token:{token.id}", role=AdminRole.ADMIN)
        self._check_free(p, name, keys)
        self._tokens.consume(token)
        draft = AgentDraft(
            name=name,
            owner=owner,
            purpose=m.string("purpose", limit=1000),
            team=m.string("team", limit=64),
            environment=m.string("environment", limit=64) or "production",
        )
        try:
            agent = self._registry.create_agent(p, draft)
        except (ValidationError, Conflict) as exc:
            self._tokens.refund(token)
            where = "client_name" if exc.field == "name" else (exc.field or "metadata")
            raise InvalidClientMetadata(f"{where}: {exc.message}") from exc
        uri = m.raw("jwks_uri")
        published = uri if isinstance(uri, str) else None
        for key in keys if published is None else ():  # published keys are fetched from the jwks_uri as they change
            self._agent_keys.add(p, agent.name, key.to_jwk())
        if answer["dpop_bound_access_tokens"] or published is not None:
            dpop = True if answer["dpop_bound_access_tokens"] else None
            self._clients.update(p, agent.name, dpop_bound_access_tokens=dpop, jwks_uri=published)
        return {
            "client_id": agent.name,
            "client_id_issued_at": int(self._clock.now().timestamp()),
            **answer,
            "client_name": agent.name,
            "owner": agent.owner,
            "purpose": agent.purpose,
            "team": agent.team,
            "environment": agent.environment,
        }

    def _keys(self, m: _Metadata) -> list[jose.PublicKey]:
        inline, uri = m.raw("jwks"), m.raw("jwks_uri")
        if (inline is None) == (uri is None):
            raise InvalidClientMetadata("give exactly one of jwks and jwks_uri: the keys of private_key_jwt")
        field = "jwks"
        if uri is not None:
            field = "jwks_uri"
            if not isinstance(uri, str) or not uri.startswith(("https://", "http://")) or len(uri) > 2000:
                raise InvalidClientMetadata("jwks_uri must be an https URL")
            try:
                inline = self._fetch_jwks(uri)
            except RemitError as exc:
                raise InvalidClientMetadata(f"jwks_uri: {exc.message}") from exc
        keys = inline.get("keys") if isinstance(inline, Mapping) else None
        if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_ACTIVE_KEYS:
            raise InvalidClientMetadata(f"{field} must be a JWK Set with 1 to {MAX_ACTIVE_KEYS} keys")
        accepted: list[jose.PublicKey] = []
        for i, jwk in enumerate(keys):
            try:
                accepted.append(accept_jwk(jwk))
            except ValidationError as exc:
                raise InvalidClientMetadata(f"{field}.keys[{i}]: {exc.message}") from exc
        if len({k.kid for k in accepted}) != len(accepted):
            raise InvalidClientMetadata(f"{field} holds the same key twice")
        return accepted

    def _check_free(self, p: AdminPrincipal, name: str, keys: list[jose.PublicKey]) -> None:
        """Refuse, before the token's use is spent, what would fail once the agent exists."""
        try:
            self._registry.get_agent(p, name)
        except NotFound:
            pass
        else:
            raise InvalidClientMetadata(f"client_name: an agent named {name!r} already exists")
        for key in keys:
            if self._agent_keys.registered(key.kid):
                raise InvalidClientMetadata(f"jwks: the key {key.kid} is already registered")


class _Metadata:
    """The registration request's client metadata, read field by field; each refusal names its field."""

    def __init__(self, metadata: object) -> None:
        if not isinstance(metadata, dict):
            raise InvalidClientMetadata("the request body must be a JSON object of client metadata")
        self._m: dict[str, Any] = metadata
        if "software_statement" in metadata:
            raise InvalidSoftwareStatement("software statements are not accepted: send the metadata themselves")
        if metadata.get("redirect_uris"):
            raise InvalidRedirectUri("redirect_uris must be empty: Remit has no redirect-based grant")
        if metadata.get("response_types"):
            raise InvalidClientMetadata("response_types must be empty: Remit has no redirect-based grant")

    def raw(self, name: str) -> Any:
        return self._m.get(name)

    def string(self, name: str, *, required: bool = False, limit: int = 200) -> str:
        value = self._m.get(name)
        if value is None:
            if required:
                raise InvalidClientMetadata(f"{name} is required")
            return ""
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidClientMetadata(f"{name} must be a string of at most {limit} characters")
        return value

    def answer(self, tls_method: str | None) -> dict[str, Any]:
        """The registered metadata, as §3.2.1 returns them (defaults filled in); refuses what Remit cannot honour.
        ``tls_method``: ``tls_client_auth`` when this server takes client certificates, else None."""
        method = self._m.get("token_endpoint_auth_method", AUTH_METHOD)
        methods = (AUTH_METHOD, tls_method) if tls_method else (AUTH_METHOD,)
        if method not in methods:
            raise InvalidClientMetadata(f"token_endpoint_auth_method must be {' or '.join(methods)}")
        for member in _OTHER_TLS_SUBJECTS:
            if member in self._m:
                raise InvalidClientMetadata(
                    f"{member} is not supported: Remit's CA names an agent by its SPIFFE id (tls_client_auth_san_uri)"
                )
        alg = self._m.get("token_endpoint_auth_signing_alg")
        if alg is not None and alg not in AGENT_KEY_ALGORITHMS:
            allowed = ", ".join(sorted(AGENT_KEY_ALGORITHMS))
            raise InvalidClientMetadata(f"token_endpoint_auth_signing_alg must be one of {allowed}")
        grants = self._m.get("grant_types", [CLIENT_CREDENTIALS])
        if not isinstance(grants, list) or not grants or any(g not in GRANT_TYPES for g in grants):
            raise InvalidClientMetadata(f"grant_types must list some of {', '.join(GRANT_TYPES)}")
        dpop = self._m.get("dpop_bound_access_tokens", False)
        if not isinstance(dpop, bool):
            raise InvalidClientMetadata("dpop_bound_access_tokens must be true or false")
        out: dict[str, Any] = {
            "token_endpoint_auth_method": method,
            "grant_types": list(dict.fromkeys(grants)),
            "dpop_bound_access_tokens": dpop,
        }
        if alg is not None:
            out["token_endpoint_auth_signing_alg"] = alg
        scope = self.string("scope", limit=1000)
        if scope:
            out["scope"] = scope
        for name in ("jwks", "jwks_uri"):
            if self._m.get(name) is not None:
                out[name] = self._m[name]
        return out
