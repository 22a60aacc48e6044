"""Remit's settings: ``REMIT_*`` environment variables over an optional ``remit.toml`` over defaults.

Settings are built once, by ``load_settings``, in the app factory or the CLI entry point, and passed down.
There is no module-level settings object. The string below each field is its entry in ``docs/configuration.md``
(``scripts/gen_config_docs.py`` reads them from this source).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from remit.errors import ConfigurationError
from remit.explain import explain, field_name, one_line
from remit.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PAGE_SIZE_CEILING

_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")


class ApiSettings(BaseModel):
    """HTTP API settings (section ``api``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    """Larger request bodies are refused with 413 before they are read."""
    max_page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=PAGE_SIZE_CEILING)
    """The largest ``limit`` a listing accepts (the OpenAPI document says the same)."""
    default_page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=PAGE_SIZE_CEILING)
    """The ``limit`` of a listing that names none."""
    tls_cert_file: Path | None = None
    """PEM certificate (chain) of the server: ``remit serve`` speaks HTTPS with it. Unset: plain HTTP."""
    tls_key_file: Path | None = None
    """PEM private key of ``tls_cert_file``, if the certificate file does not hold it."""
    tls_client_ca_file: Path | None = None
    """PEM CA certificates that agents' client certificates must chain to (mutual TLS, RFC 8705). Unset: Remit's own
    CA, written to ``<home>/agent-ca.pem`` at start. A client certificate is optional at the TLS layer."""
    client_cert_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    """Behind a TLS-terminating proxy: the header in which it forwards the client certificate as URL-encoded PEM
    (nginx: ``proxy_set_header X-Client-Cert $ssl_client_escaped_cert``). Read only from ``trusted_proxies``."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (exact IPs) whose ``client_cert_header`` is believed. Anyone else's is ignored."""

    @model_validator(mode="after")
    def _check(self) -> ApiSettings:
        if self.tls_cert_file is None and (self.tls_key_file is not None or self.tls_client_ca_file is not None):
            raise ValueError("api.tls_key_file and api.tls_client_ca_file need api.tls_cert_file")
        if self.client_cert_header is not None and not self.trusted_proxies:
            raise ValueError("api.client_cert_header needs api.trusted_proxies: the proxies whose header is believed")
        return self


class StoreSettings(BaseModel):
    """How long Remit waits for its database (section ``store``). Past a bound the request is refused, never left
    hanging: ``503 store_unavailable`` (``temporarily_unavailable`` at the OAuth endpoints), ``/readyz`` answers
    503, and the next request tries again, so the server recovers by itself when the database answers again.
    Migrations and audit retention run without the statement bound."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout_seconds: int = Field(default=2, ge=2, le=300)
    """Opening a PostgreSQL connection (TCP, TLS, authentication). Whole seconds, at least 2 (libpq's rule, which
    psycopg follows)."""
    statement_timeout_seconds: float = Field(default=2.0, ge=0.1, le=3600)
    """One statement, fetch or commit. PostgreSQL cancels a statement that runs longer (its ``statement_timeout``);
    a server that does not answer at all (stalled, frozen, cut off) is given half a second more, then its connection
    is closed. While it does not answer, requests are refused at once but for one every half second that tries
    again. SQLite: how long a writer waits for another process's write lock (``busy_timeout``)."""
    pool_timeout_seconds: float = Field(default=2.0, ge=0.1, le=300)
    """How long a request waits for a free connection of the pool (10, plus 20 under load)."""


class AuditSettings(BaseModel):
    """The audit log (section ``audit``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["sync", "async"] = "sync"
    """``sync``: a decision is released only once its record is committed. ``async``: once it is in the local
    spool file (survives a crash of the process, replayed on start); the database commit follows."""
    writer: Literal["process", "inline"] = "process"
    """Where a server commits its audit batches in ``sync`` mode. ``process``: in a child process of its own
    (``remit.audit_writer``), so that chaining, inserting and committing never hold up the server's event loop;
    the server waits only for the child's acknowledgement. ``inline``: on the server's event loop, between
    requests. Command-line tools and embedded use commit on a thread of their own either way; ``async`` mode
    commits inline."""
    batch_ms: float = Field(default=2.0, ge=0, le=1000)
    """Group commit: how long the writer waits for more records before committing a batch."""
    max_batch: int = Field(default=2000, ge=1, le=100_000)
    """The most records committed in one transaction."""
    max_pending: int = Field(default=50_000, ge=1, le=10_000_000)
    """Records waiting to be written; beyond this, requests are refused (503) rather than records dropped."""
    ack_timeout_seconds: float = Field(default=2.0, ge=0.1, le=600)
    """How long a decision (or a token, a revocation) waits for its record to be committed, in ``sync`` mode; past
    this it is refused (``503 audit_unavailable``), never released unrecorded. The record may still be committed
    later: the log then holds a decision that its caller was refused."""
    checkpoint_every: int = Field(default=1000, ge=1, le=10_000_000)
    """Sign the chain's end (a checkpoint) every this many records."""
    checkpoint_seconds: float = Field(default=60.0, gt=0, le=86_400)
    """... and at least this often while records arrive."""
    mask_paths: tuple[str, ...] = ()
    """Dotted JSON paths whose values are replaced by ``***`` before writing, from the record's root, ``*`` for
    any member: ``context.arguments.card_number``, ``properties.subject.*``, ``reason``. Members named like
    secrets (password, token, api_key, ...) are always masked, and credentials inside any text of the record
    (tokens, keys, JWTs) are always replaced by ``[masked:<kind>]``."""
    context_max_bytes: int = Field(default=8192, ge=256, le=1_048_576)
    """A context (or properties object) larger than this is recorded as a summary of its members."""
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    """Delete records older than this, down to a signed checkpoint (``remit audit prune``); None keeps all."""
    signing_key_file: Path | None = None
    """PEM Ed25519 private key that signs checkpoints. Default ``<home>/keys/audit-signing.pem``, created on
    first use with mode 0600. Give every server of one PostgreSQL store the same key, or verify with all."""
    spool_file: Path | None = None
    """The async mode's spool. Default ``<home>/audit.spool``."""


class ObservabilitySettings(BaseModel):
    """Metrics and traces (section ``observability``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics_public: bool = False
    """Serve ``GET /metrics`` without a token; only where a private network alone reaches the port."""
    tracing: bool = False
    """Emit OpenTelemetry spans of the decision path. Off, the hot path does no tracing work at all."""
    trace_exporter: Literal["otlp", "console", "none"] = "otlp"
    """Where spans go: OTLP over HTTP, standard output (a look while developing), or nowhere."""
    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=2000)
    """OTLP/HTTP traces URL (``http://collector:4318/v1/traces``). Default: ``OTEL_EXPORTER_OTLP_*``."""
    service_name: str = Field(default="remit", min_length=1, max_length=200)
    """The ``service.name`` of every span."""
    trace_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    """Share of new traces recorded; a request in a caller's trace follows the caller's sampling choice."""


class TrustedIssuer(BaseModel):
    """An identity provider whose users' tokens an agent may exchange to act on their behalf (RFC 8693)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(pattern=r"^https?://[^\s#]+$", max_length=2000)
    """The exact ``iss`` of its tokens."""
    jwks_file: Path | None = None
    """A JWK Set file holding its public signing keys (read at start)."""
    jwks: dict[str, Any] | None = None
    """... or the JWK Set itself, inline ..."""
    jwks_uri: str | None = Field(default=None, pattern=r"^https?://[^\s#]+$", max_length=2000)
    """... or where the provider publishes it (``https``, on any address): fetched when first
    needed, every ``jwks_refresh_seconds``, and at once when a token names a key it does not hold (at most every
    30 s). Exactly one of ``jwks_file``, ``jwks`` and ``jwks_uri``."""
    jwks_refresh_seconds: int = Field(default=300, ge=30, le=86_400)
    """How long keys fetched from ``jwks_uri`` are used before they are fetched again. If the provider cannot be
    reached, the keys fetched before keep verifying for an hour more; then its tokens are refused."""
    audience: tuple[str, ...] = ()
    """The ``aud`` values its tokens may carry to be exchanged here; default: Remit's issuer and token endpoint."""
    user_claim: str = Field(default="sub", pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    """The claim that holds the Remit user id (``sub``, ``preferred_username``, ``email``, ...)."""
    algorithms: tuple[Literal["EdDSA", "ES256", "ES384", "RS256", "PS256"], ...] = ("RS256", "ES256", "EdDSA")
    """The signing algorithms accepted from it."""

    @model_validator(mode="after")
    def _check(self) -> TrustedIssuer:
        if sum(x is not None for x in (self.jwks_file, self.jwks, self.jwks_uri)) != 1:
            raise ValueError(f"trusted issuer {self.issuer}: give exactly one of jwks_file, jwks and jwks_uri")
        if not self.algorithms:
            raise ValueError(f"trusted issuer {self.issuer}: algorithms must not be empty")
        return self


class TokenSettings(BaseModel):
    """The token service (section ``tokens``): the issuer, token lifetimes and the signing keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(default="http://127.0.0.1:8400", pattern=r"^https?://[^\s?#]+$", max_length=2000)
    """The ``iss`` of every token, and the base URL of ``/.well-known/jwks.json``. Default ``http://<host>:<port>``
    (``https`` with ``api.tls_cert_file``);
    set it to the URL agents and resource servers reach (the same on every server)."""
    signing_alg: Literal["EdDSA", "ES256"] = "EdDSA"
    """The algorithm of new signing keys: Ed25519 (``EdDSA``) or ECDSA P-256 (``ES256``). A change applies at the
    next start: the active key is rotated to the new algorithm (the old one keeps verifying)."""
    access_token_seconds: int = Field(default=300, ge=10, le=86_400)
    """How long an access token lives unless a shorter lifetime is asked for."""
    max_access_token_seconds: int = Field(default=3600, ge=10, le=86_400)
    """The longest lifetime any token gets. A retired signing key keeps verifying this long after its retirement
    (plus a minute of clock leeway), so every token it signed can still be checked."""
    key_rotation_days: int = Field(default=30, ge=1, le=3650)
    """The active signing key is replaced automatically once it is this old."""
    dpop_max_age_seconds: int = Field(default=60, ge=5, le=600)
    """A DPoP proof (RFC 9449) is accepted for this long after its ``iat``; its ``jti`` is remembered as long, in
    the store, so that no server accepts it twice."""
    dpop_leeway_seconds: int = Field(default=5, ge=0, le=60)
    """How far in the future a DPoP proof's ``iat`` may be (the client's clock running ahead)."""
    dpop_nonce: bool = False
    """Require a server nonce (RFC 9449 §8) in every DPoP proof at the token endpoint: a proof without a current one
    is answered ``use_dpop_nonce`` with a ``DPoP-Nonce`` header to retry with. Nonces are sealed with the
    key-encryption key, so every server of one store accepts the others'."""
    dpop_nonce_seconds: int = Field(default=300, ge=10, le=3600)
    """How long a DPoP nonce is accepted after it was handed out; a new one is handed out every half of this."""
    jwks_uri_allow_loopback: bool = False
    """Accept a registering client's ``jwks_uri`` on a loopback address (``127.0.0.1``, ``::1``), over ``http`` too,
    and a trusted issuer's over ``http`` on a loopback address. For tests and development only: otherwise a client's
    ``jwks_uri`` must be ``https`` on a public address, and a trusted issuer's ``https``."""
    legacy_key_max_days: int = Field(default=90, ge=1, le=365)
    """The longest a legacy static API key may live: every key is made with an expiry, and it may not be further
    away than this. Migrate agents to a key pair (``remit keys migrate``) rather than raising it."""
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    """Identity providers whose users' tokens agents may exchange for delegated Remit tokens (token exchange,
    RFC 8693). In ``remit.toml``: ``[[tokens.trusted_issuers]]`` tables."""
    max_delegation_depth: int = Field(default=3, ge=1, le=10)
    """The most actors a delegated token's ``act`` chain may hold (agent-to-agent hops); one more is refused."""
    kek_file: Path | None = None
    """File holding the key-encryption key (base64url of 32 random bytes), mode 0600, that encrypts the signing
    keys' private halves in the database. Unset: ``REMIT_KEY_ENCRYPTION_KEY``, or else ``<home>/keys/kek``, created
    on first use. Every server of one PostgreSQL store needs the same key-encryption key."""
    certificate_hours: int = Field(default=24, ge=1, le=8760)
    """How long an agent's client certificate from Remit's CA is valid unless a shorter time is asked for."""
    max_certificate_hours: int = Field(default=168, ge=1, le=8760)
    """The longest validity an agent's client certificate gets (``--valid-for`` and ``valid_for_seconds``)."""
    ca_organization: str = Field(default="Remit", min_length=1, max_length=64)
    """The ``O=`` of the CA certificate ``remit ca init`` makes (``CN=Remit agent CA, O=<this>``)."""
    ca_validity_days: int = Field(default=1826, ge=1, le=36_500)
    """How long the CA certificate ``remit ca init`` makes is valid (default five years)."""

    @model_validator(mode="after")
    def _check(self) -> TokenSettings:
        if self.access_token_seconds > self.max_access_token_seconds:
            raise ValueError("tokens.access_token_seconds must not exceed tokens.max_access_token_seconds")
        if self.certificate_hours > self.max_certificate_hours:
            raise ValueError("tokens.certificate_hours must not exceed tokens.max_certificate_hours")
        issuers = [t.issuer for t in self.trusted_issuers]
        if self.issuer in issuers or len(set(issuers)) != len(issuers):
            raise ValueError("tokens.trusted_issuers must be distinct, and none may be Remit's own issuer")
        return self


class Settings(BaseSettings):
    """Root settings. Environment: ``REMIT_<FIELD>``, nested ``REMIT_API__MAX_BODY_BYTES``."""

    model_config = SettingsConfigDict(
        env_prefix="REMIT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,  # a bad database_url must not echo its password into an error
    )

    home: Path = Path(".remit")
    """Holds the SQLite file, keys and local configuration (``remit.toml``)."""
    env: Literal["dev", "production"] = "dev"
    """``production`` refuses insecure defaults such as a SQLite store."""
    database_url: str | None = None
    """SQLAlchemy URL. Default: the SQLite file ``<home>/remit.db``. PostgreSQL: ``postgresql+psycopg://...``."""
    allow_sqlite_in_production: bool = False
    """Set to accept a SQLite store with ``env = "production"`` (a single server only)."""
    trust_domain: str = "remit.local"
    """SPIFFE trust domain of agent ids: ``spiffe://<trust_domain>/agent/<name>``."""
    review_interval_days: int = Field(default=90, ge=1, le=3650)
    """A new agent's access review falls due this many days after it is registered."""
    host: str = "127.0.0.1"
    """Address ``remit serve`` binds to."""
    port: int = Field(default=8400, ge=1, le=65535)
    """Port ``remit serve`` listens on."""
    migrate_on_start: bool = True
    """Bring the database schema to the latest version when the server starts."""
    policy_refresh_seconds: float = Field(default=0.25, gt=0, le=60)
    """How often a server checks the store for policy and registry changes (they apply within this time). Agent and
    user status changes apply at once on the server that makes them and, on PostgreSQL, on every server notified."""
    key_encryption_key: SecretStr | None = None
    """The key-encryption key (base64url or base64 of 32 random bytes) that encrypts the signing keys' private
    halves in the database; set it from a secret store, the same on every server. Or use ``tokens.kek_file``."""
    api: ApiSettings = ApiSettings()
    store: StoreSettings = StoreSettings()
    audit: AuditSettings = AuditSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    tokens: TokenSettings = TokenSettings()

    @model_validator(mode="before")
    @classmethod
    def _derive_issuer(cls, data: Any) -> Any:
        """``tokens.issuer`` defaults to this server's own address, ``http://<host>:<port>``."""
        if not isinstance(data, dict):
            return data
        tokens = data.get("tokens")
        if isinstance(tokens, TokenSettings):
            if "issuer" in tokens.model_fields_set:
                return data
            return {**data, "tokens": tokens.model_copy(update={"issuer": _own_url(data)})}
        if tokens is None:
            tokens = {}
        if not isinstance(tokens, dict) or tokens.get("issuer") is not None:
            return data  # given, or not a section at all: validation says what is wrong
        return {**data, "tokens": {**tokens, "issuer": _own_url(data)}}

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not _TRUST_DOMAIN.fullmatch(self.trust_domain):
            raise ValueError("trust_domain must be a lowercase DNS name such as 'example.org'")
        if self.api.default_page_size > self.api.max_page_size:
            raise ValueError("api.default_page_size must not exceed api.max_page_size")
        if self.env == "production" and self.is_sqlite and not self.allow_sqlite_in_production:
            raise ValueError(
                "env=production with a SQLite store: set REMIT_DATABASE_URL to PostgreSQL, "
                "or REMIT_ALLOW_SQLITE_IN_PRODUCTION=true for a single server"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'remit.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def _own_url(data: dict[str, Any]) -> str:
    host = str(data.get("host") or Settings.model_fields["host"].default)
    port = data.get("port") or Settings.model_fields["port"].default
    api = data.get("api")
    tls = api.tls_cert_file if isinstance(api, ApiSettings) else isinstance(api, dict) and api.get("tls_cert_file")
    scheme = "https" if tls else "http"  # ``remit serve`` speaks HTTPS with api.tls_cert_file
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


#: the ``remit.toml`` chosen by the ``load_settings`` call in progress (a context variable, not a global):
#: a path, False for "none", or None when ``Settings`` is built directly (then ``REMIT_HOME`` decides)
_toml_file: ContextVar[Path | Literal[False] | None] = ContextVar("remit_toml_file", default=None)


def _toml_path() -> Path | None:
    chosen = _toml_file.get()
    if chosen is False:
        return None
    if chosen is not None:
        return chosen
    home = Path(os.environ.get("REMIT_HOME", ".remit"))
    candidate = home / "remit.toml"
    return candidate if candidate.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides, the environment and ``remit.toml``; raise ``ConfigurationError``.

    ``remit.toml`` is read from ``REMIT_CONFIG`` or ``<home>/remit.toml`` (home from an override or
    ``REMIT_HOME``).
    """
    home = overrides.get("home")
    toml: Path | None = None
    if os.environ.get("REMIT_CONFIG"):
        toml = Path(os.environ["REMIT_CONFIG"])
        if not toml.is_file():
            raise ConfigurationError(f"REMIT_CONFIG names {toml}, which is not a file")
    elif home is not None:
        # an explicit home has its own remit.toml or none; never the one of REMIT_HOME or ./.remit
        candidate = Path(home) / "remit.toml"
        toml = candidate if candidate.is_file() else None
    else:
        toml = _toml_path()
    token = _toml_file.set(toml if toml is not None else False)
    try:
        return Settings(**overrides)
    except pydantic.ValidationError as exc:  # in Remit's words, naming the setting and its variable
        problems = explain(exc.errors(), model=Settings, whole="the settings", name=_setting_name)
        raise ConfigurationError(one_line(problems)) from exc
    except (ValueError, OSError) as exc:
        raise ConfigurationError(_first_line(exc)) from exc
    finally:
        _toml_file.reset(token)


def _setting_name(loc: tuple[Any, ...]) -> str:
    """``api.max_body_bytes (REMIT_API__MAX_BODY_BYTES)``; a list item has no variable of its own."""
    name = field_name(loc)
    if loc and all(isinstance(part, str) and part.isidentifier() for part in loc):
        return f"{name} (REMIT_{'__'.join(str(part).upper() for part in loc)})"
    return name


def _first_line(exc: Exception) -> str:
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:4]) if lines else type(exc).__name__
