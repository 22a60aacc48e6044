"""Wiring: build the store and services once from settings. Used by the app factory and the CLI."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from remit.admin.service import AdminTokenService
from remit.audit.decisions import DecisionRecorder
from remit.audit.log import AuditLog
from remit.audit.process import WriterConfig
from remit.audit.service import AuditService, ChainAppender
from remit.audit.signing import KEY_FILE, SigningKey
from remit.clock import Clock, SystemClock
from remit.net.http import FetchPolicy, fetch_json
from remit.obs.decisions import fan_out
from remit.obs.metrics import Metrics
from remit.policy.authorizer import Authorizer
from remit.policy.engine import PolicyEngine
from remit.policy.refresh import PolicyRefresher
from remit.policy.service import PolicyService
from remit.policy.sinks import log_would_deny
from remit.registry.service import RegistryService
from remit.settings import Settings
from remit.store.agentclients import AgentClientStore
from remit.store.agentkeys import AgentKeyStore
from remit.store.audit import AuditStore
from remit.store.legacykeys import LegacyKeyStore
from remit.store.notify import PgChangeFeed
from remit.store.registrationtokens import RegistrationTokenStore
from remit.store.repository import SqlStore
from remit.store.revocations import RevocationStore
from remit.tokens.adminrevoke import AdminRevocation
from remit.tokens.agentkeyservice import AgentKeyService
from remit.tokens.certservice import CertificateService
from remit.tokens.clientservice import AgentClientService
from remit.tokens.dpop import DpopVerifier
from remit.tokens.dpopnonce import SealedNonces
from remit.tokens.endpoint import StoreReplayGuard, TokenEndpoint
from remit.tokens.exchange import TokenExchange, load_trusted
from remit.tokens.introspection import TokenIntrospection
from remit.tokens.kek import KeyEncryptionKey
from remit.tokens.keyservice import SigningKeyService
from remit.tokens.legacykeyservice import LegacyKeyService
from remit.tokens.ownkeys import OwnKeys
from remit.tokens.registration import ClientRegistration
from remit.tokens.registrationtokenservice import RegistrationTokenService
from remit.tokens.remotejwks import ClientKeySets
from remit.tokens.revocationset import RevocationSet
from remit.tokens.verify import VerifiedCache, VerifyPolicy
from remit.wiring import Foundation

if TYPE_CHECKING:
    from remit.obs.tracing import Tracing


@dataclass(frozen=True, slots=True)
class Remit:
    """Everything a Remit process needs, built from one ``Settings``."""

    settings: Settings
    clock: Clock
    engine: Engine
    store: SqlStore
    registry: RegistryService
    admin_tokens: AdminTokenService
    policies: PolicyService
    pdp: PolicyEngine
    refresher: PolicyRefresher
    audit: AuditService
    audit_log: AuditLog
    decision_recorder: DecisionRecorder
    metrics: Metrics
    tracing: Tracing | None  #: None when tracing is off
    signing_keys: SigningKeyService  #: token signing keys, shared through the store
    agent_keys: AgentKeyService  #: agents' public keys for private_key_jwt
    certificates: CertificateService  #: Remit's CA and agents' client certificates (mutual TLS)
    legacy_keys: LegacyKeyService  #: agents' legacy static API keys (discouraged; always expiring, always flagged)
    agent_clients: AgentClientService  #: agents' OAuth client metadata (DPoP required, ...)
    token_endpoint: TokenEndpoint  #: client_credentials with private_key_jwt
    introspection: TokenIntrospection  #: revocation (RFC 7009) and introspection (RFC 7662)
    revocations: RevocationStore  #: revoked access tokens, shared by every server of the store
    revocation_set: RevocationSet  #: the same, held in memory for verifiers on the hot path
    token_exchange: TokenExchange  #: on-behalf-of delegation (RFC 8693)
    token_revocation: AdminRevocation  #: admins and owners revoke access tokens by token or jti
    registration_tokens: RegistrationTokenService  #: initial access tokens for dynamic client registration
    registration: ClientRegistration  #: RFC 7591 dynamic client registration

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        migrate_schema: bool = True,
        foundation: Foundation | None = None,
    ) -> Remit:
        """``foundation``: the clock, engine, store and registry to build on when they are open already (a CLI
        command that first needed only them); else they are made here (the schema migrated with ``migrate_schema``)."""
        if foundation is None:
            foundation = Foundation.from_settings(settings, clock or SystemClock(), migrate_schema=migrate_schema)
        clock, engine, store, registry = foundation.clock, foundation.engine, foundation.store, foundation.registry
        masker, timeouts = foundation.masker, foundation.timeouts
        policies = PolicyService(store, clock)
        metrics = Metrics()
        tracing: Tracing | None = None
        if settings.observability.tracing:  # OpenTelemetry is imported only when tracing is on
            from remit.obs.tracing import Tracing

            tracing = Tracing.from_settings(settings.observability)
        sinks = [log_would_deny, metrics.observe_decision]
        if tracing is not None:
            sinks.append(tracing.observe_decision)
        pdp = PolicyEngine(sink=fan_out(*sinks))
        # PostgreSQL pushes status changes to every server (LISTEN/NOTIFY); SQLite is one server: its own changes
        # reach its guard through ``on_guard_change``, the CLI's through the poll
        feed = PgChangeFeed(engine) if engine.dialect.name == "postgresql" else None
        refresher = PolicyRefresher(policies, pdp, interval=settings.policy_refresh_seconds, feed=feed)
        store.on_guard_change(refresher.apply)
        audit_store = AuditStore(engine)
        a = settings.audit
        key = (
            SigningKey.from_pem(a.signing_key_file.read_bytes(), source=str(a.signing_key_file))
            if a.signing_key_file is not None
            else SigningKey.load_or_create(settings.home / "keys")
        )
        audit_log = AuditLog(
            ChainAppender(audit_store, key, clock, checkpoint_every=a.checkpoint_every),
            masker=masker,
            mode=a.mode,
            batch_seconds=a.batch_ms / 1000,
            max_batch=a.max_batch,
            max_pending=a.max_pending,
            spool=a.spool_file or settings.home / "audit.spool",
            checkpoint_seconds=a.checkpoint_seconds,
            on_commit=metrics.observe_audit_commit,
            now=clock.now,
            ack_timeout=a.ack_timeout_seconds,
            process=(
                WriterConfig(
                    database_url=settings.resolved_database_url,
                    signing_key_file=str(a.signing_key_file or settings.home / "keys" / KEY_FILE),
                    checkpoint_every=a.checkpoint_every,
                    checkpoint_seconds=a.checkpoint_seconds,
                    mask_paths=a.mask_paths,
                    context_max_bytes=a.context_max_bytes,
                    connect_timeout=timeouts.connect,
                    statement_timeout=timeouts.statement,
                    pool_timeout=timeouts.pool,
                )
                if a.writer == "process"
                else None
            ),
        )
        metrics.watch(audit_log=audit_log, pdp=pdp)
        signing_keys = SigningKeyService.from_settings(settings, store, clock, revision=refresher.observed_revision)
        agent_key_store = AgentKeyStore(store)
        agent_keys = AgentKeyService(agent_key_store, clock)
        certificates = CertificateService.from_settings(settings, store, clock)
        agent_clients = AgentClientService(AgentClientStore(store), clock)
        t = settings.tokens
        replay = StoreReplayGuard(agent_key_store, clock)
        legacy_keys = LegacyKeyService(
            LegacyKeyStore(store), clock, max_days=t.legacy_key_max_days, on_use=metrics.legacy_key_used
        )
        kek = functools.cache(lambda: KeyEncryptionKey.from_settings(settings))  # read (or made) when first used
        nonces = SealedNonces(kek, clock, lifetime=t.dpop_nonce_seconds) if t.dpop_nonce else None
        # a client's jwks_uri is the client's choice: https on a public address only
        fetch_policy = FetchPolicy(allow_loopback=t.jwks_uri_allow_loopback)
        published = ClientKeySets(agent_clients.jwks_uri, lambda url: fetch_json(url, fetch_policy), clock)
        token_endpoint = TokenEndpoint(
            issuer=t.issuer,
            store=store,
            agent_keys=agent_keys,
            replay=replay,
            pdp=pdp,
            signing_keys=signing_keys,
            clock=clock,
            lifetime=min(t.access_token_seconds, t.max_access_token_seconds),
            clients=agent_clients,
            certificates=certificates,
            dpop=DpopVerifier(
                replay=replay,
                clock=clock,
                max_age=t.dpop_max_age_seconds,
                leeway=t.dpop_leeway_seconds,
                nonces=nonces,
            ),
            record=audit_log.record_durably,
            legacy_keys=legacy_keys,
            client_keys=published.lookup,
        )
        revocations = RevocationStore(store)
        revocation_set = RevocationSet(revocations, clock, interval=settings.policy_refresh_seconds)
        revocations.observe(revocation_set.noted)  # a revocation made here applies here at once
        if feed is not None:  # one made on another server, as soon as its notification arrives
            feed.on_revocation = revocation_set.invalidate
        # a trusted provider's jwks_uri is the administrator's choice: a private address is fine, http only on loopback
        provider_fetch = FetchPolicy(allow_loopback=t.jwks_uri_allow_loopback, allow_private=True)
        token_exchange = TokenExchange(
            issuer=t.issuer,
            store=store,
            pdp=pdp,
            signing_keys=signing_keys,
            own_keys=OwnKeys(signing_keys),
            is_revoked=revocations.is_revoked,
            agent_assertion=token_endpoint.authenticate_client,
            clock=clock,
            lifetime=min(t.access_token_seconds, t.max_access_token_seconds),
            max_depth=t.max_delegation_depth,
            trusted=load_trusted(t.trusted_issuers, clock, fetch=lambda url: fetch_json(url, provider_fetch)),
            record=audit_log.record_durably,
        )
        introspection = TokenIntrospection(
            endpoint=token_endpoint,
            store=store,
            revocations=revocations,
            signing_keys=signing_keys,
            clock=clock,
            record=audit_log.record_durably,
        )
        registration_tokens = RegistrationTokenService(RegistrationTokenStore(store), clock)
        registration = ClientRegistration(
            tokens=registration_tokens,
            registry=registry,
            agent_keys=agent_keys,
            clients=agent_clients,
            clock=clock,
            fetch_jwks=lambda url: fetch_json(url, fetch_policy),
            trust_domain=settings.trust_domain,
            # RFC 8705: where a client certificate can reach the app (TLS here, or a trusted proxy forwarding it)
            mtls=settings.api.tls_cert_file is not None or settings.api.client_cert_header is not None,
        )
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            store=store,
            registry=registry,
            admin_tokens=AdminTokenService(
                store, clock, cache_seconds=settings.policy_refresh_seconds, revision=refresher.observed_revision
            ),
            policies=policies,
            pdp=pdp,
            refresher=refresher,
            audit=AuditService(audit_store, key),
            audit_log=audit_log,
            decision_recorder=DecisionRecorder(audit_log, clock, context_max_bytes=a.context_max_bytes),
            metrics=metrics,
            tracing=tracing,
            signing_keys=signing_keys,
            agent_keys=agent_keys,
            certificates=certificates,
            legacy_keys=legacy_keys,
            agent_clients=agent_clients,
            token_endpoint=token_endpoint,
            introspection=introspection,
            revocations=revocations,
            revocation_set=revocation_set,
            token_exchange=token_exchange,
            token_revocation=AdminRevocation(
                introspection=introspection,
                store=store,
                revocations=revocations,
                clock=clock,
                max_lifetime=t.max_access_token_seconds,
                record=audit_log.record_durably,
            ),
            registration_tokens=registration_tokens,
            registration=registration,
        )

    def authorizer(self, *, audit_process: bool = True) -> Authorizer:
        """The in-process API over this container's engine (state compiled on first use); its decisions are
        recorded in the audit log, which this starts if it is not running. With ``audit.writer = "process"`` (the
        default) and ``audit_process``, the log's batches are committed by a writer process, so that the threads
        deciding do not share the interpreter with the database work; one-shot commands pass False rather than
        start it."""
        if self.pdp.state is None:
            self.refresher.refresh()
        self.audit_log.start(process=audit_process)
        return Authorizer(
            self.pdp,
            self.refresher,
            recorder=self.decision_recorder,
            ack_timeout=self.settings.audit.ack_timeout_seconds,
        )

    def token_verifier(
        self, audience: str | tuple[str, ...], *, capacity: int = 4096, revocations: str = "store"
    ) -> VerifiedCache:
        """A verifier of the access tokens this estate issues for ``audience``, for a component in this process (a
        gateway): Remit's own signing keys (a key revoked by rotation is refused at once, cached tokens included),
        and revocations: with ``"store"``, the shared revocation store read on every call, so that a token revoked
        on any server is refused on the very next request here; with ``"memory"``, this process's
        ``RevocationSet``: a revocation made here applies at once, one made elsewhere within
        ``policy_refresh_seconds``, and a cached token is re-checked in microseconds. Sender binding is the
        caller's ``Binding``."""
        policy = VerifyPolicy.access_token(self.token_endpoint.issuer, audience)
        if revocations not in ("store", "memory"):
            raise ValueError("revocations is 'store' or 'memory'")
        hook = self.revocations.is_revoked if revocations == "store" else self.revocation_set.is_revoked
        return VerifiedCache(OwnKeys(self.signing_keys), policy, self.clock, capacity=capacity, is_revoked=hook)

    def close(self) -> None:
        self.refresher.stop()
        self.audit_log.stop()
        if self.tracing is not None:
            self.tracing.shutdown()
        self.engine.dispose()
