"""The local backend: calls Remit's services directly on the database of ``REMIT_HOME``.

Whoever can write ``REMIT_HOME`` is an admin; changes are recorded as ``local:<os user>``. A server running
on the same database sees every change at its next request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from remit.cli.backend import Json, Listing, MemberKind, PageArgs
from remit.cli.home import local_principal, open_estate, open_registry
from remit.errors import ValidationError
from remit.paging import Page, PageRequest, check_limit, decode_cursor, encode_cursor
from remit.policy.errors import PolicyValidationError

if TYPE_CHECKING:  # the request models and the policy engine load with the commands that use them
    from pydantic import BaseModel

    from remit.api.schemas.access_tokens import TokenRevokeRequest
    from remit.api.schemas.admin import AdminTokenCreateRequest
    from remit.api.schemas.agents import AgentCreateRequest, AgentUpdateRequest
    from remit.api.schemas.api_keys import ApiKeyCreateRequest
    from remit.api.schemas.certificates import CaInitRequest, CertificateIssueRequest
    from remit.api.schemas.common import StatusChangeRequest
    from remit.api.schemas.keys import KeyRotateRequest
    from remit.api.schemas.policies import (
        ActivateRequest,
        EntitiesApplyRequest,
        ModeRequest,
        PolicyApplyRequest,
        PolicyValidateRequest,
        RollbackRequest,
    )
    from remit.api.schemas.registration import RegistrationTokenCreateRequest
    from remit.api.schemas.resources import ResourceCreateRequest, ResourceUpdateRequest
    from remit.api.schemas.roles import RoleCreateRequest, RoleUpdateRequest
    from remit.api.schemas.users import UserCreateRequest, UserUpdateRequest
    from remit.audit.chain import Report
    from remit.audit.signing import PublicKey
    from remit.container import Remit
    from remit.policy.cases import Outcome
    from remit.policy.model import AuthzRequest
    from remit.registry.models import AgentAction
    from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
    from remit.settings import Settings
    from remit.store.audit import AuditFilter

T = TypeVar("T")

#: how often ``audit_stream(follow=True)`` looks for new records
AUDIT_POLL_SECONDS = 0.5


def dump(model: BaseModel) -> Json:
    """What the HTTP API would send for ``model``."""
    return model.model_dump(mode="json", by_alias=True)


class LocalBackend:
    """``Backend`` over the services, acting as the local admin."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base = open_registry(settings)
        self._p = local_principal()
        self._registry = self._base.registry
        self._wired: Remit | None = None
        self.location = f"local {settings.home}"

    @property
    def _remit(self) -> Remit:
        """The whole of Remit on this estate (policies, tokens, the audit log, ...), wired when a command first needs
        more than the registry: a registry command does not load the token service or the policy engine."""
        if self._wired is None:
            self._wired = open_estate(self._settings, create=False, foundation=self._base)
        return self._wired

    def close(self) -> None:
        if self._wired is not None:
            self._wired.close()  # the foundation's engine with it
        self._base.engine.dispose()

    def whoami(self) -> Json:
        return {"actor": self._p.actor, "role": self._p.role.value, "user_id": self._p.user_id}

    # -- agents ---------------------------------------------------------------------------------------------

    def create_agent(self, req: AgentCreateRequest) -> Json:
        from remit.api.schemas.agents import AgentResponse

        return dump(AgentResponse.of(self._registry.create_agent(self._p, req.to_draft())))

    def list_agents(self, where: AgentFilter, page: PageArgs) -> Listing:
        from remit.api.schemas.agents import AgentResponse

        got = self._registry.list_agents(self._p, where, self._page(page))
        return _listing(got, lambda a: dump(AgentResponse.of(a)))

    def get_agent(self, name: str) -> Json:
        from remit.api.schemas.agents import AgentResponse

        return dump(AgentResponse.of(self._registry.get_agent(self._p, name)))

    def update_agent(self, name: str, req: AgentUpdateRequest) -> Json:
        from remit.api.schemas.agents import AgentResponse

        return dump(AgentResponse.of(self._registry.update_agent(self._p, name, req.to_changes())))

    def change_agent_status(self, name: str, verb: AgentAction, req: StatusChangeRequest) -> Json:
        from remit.api.schemas.agents import AgentResponse

        return dump(AgentResponse.of(self._registry.change_agent_status(self._p, name, verb, req.reason)))

    # -- users ----------------------------------------------------------------------------------------------

    def create_user(self, req: UserCreateRequest) -> Json:
        from remit.api.schemas.users import UserResponse

        return dump(UserResponse.of(self._registry.create_user(self._p, req.to_draft())))

    def list_users(self, where: UserFilter, page: PageArgs) -> Listing:
        from remit.api.schemas.users import UserResponse

        got = self._registry.list_users(self._p, where, self._page(page))
        return _listing(got, lambda u: dump(UserResponse.of(u)))

    def get_user(self, user_id: str) -> Json:
        from remit.api.schemas.users import UserResponse

        return dump(UserResponse.of(self._registry.get_user(self._p, user_id)))

    def update_user(self, user_id: str, req: UserUpdateRequest) -> Json:
        from remit.api.schemas.users import UserResponse

        return dump(UserResponse.of(self._registry.update_user(self._p, user_id, req.to_changes())))

    # -- roles ----------------------------------------------------------------------------------------------

    def create_role(self, req: RoleCreateRequest) -> Json:
        from remit.api.schemas.roles import RoleResponse

        return dump(RoleResponse.of(self._registry.create_role(self._p, req.to_draft())))

    def list_roles(self, where: RoleFilter, page: PageArgs) -> Listing:
        from remit.api.schemas.roles import RoleResponse

        got = self._registry.list_roles(self._p, where, self._page(page))
        return _listing(got, lambda r: dump(RoleResponse.of(r)))

    def get_role(self, name: str) -> Json:
        from remit.api.schemas.roles import RoleResponse

        return dump(RoleResponse.of(self._registry.get_role(self._p, name)))

    def update_role(self, name: str, req: RoleUpdateRequest) -> Json:
        from remit.api.schemas.roles import RoleResponse

        return dump(RoleResponse.of(self._registry.update_role(self._p, name, req.to_changes())))

    def delete_role(self, name: str) -> None:
        self._registry.delete_role(self._p, name)

    def set_role_member(self, role: str, kind: MemberKind, member_id: str, member: bool) -> Json:
        from remit.api.schemas.roles import RoleResponse

        if kind == "agent":
            got = self._registry.assign_agent(self._p, role, member_id, member)
        else:
            got = self._registry.assign_user(self._p, role, member_id, member)
        return dump(RoleResponse.of(got))

    # -- resources ------------------------------------------------------------------------------------------

    def create_resource(self, req: ResourceCreateRequest) -> Json:
        from remit.api.schemas.resources import ResourceResponse

        return dump(ResourceResponse.of(self._registry.create_resource(self._p, req.to_draft())))

    def list_resources(self, where: ResourceFilter, page: PageArgs) -> Listing:
        from remit.api.schemas.resources import ResourceResponse

        got = self._registry.list_resources(self._p, where, self._page(page))
        return _listing(got, lambda r: dump(ResourceResponse.of(r)))

    def get_resource(self, resource_id: str) -> Json:
        from remit.api.schemas.resources import ResourceResponse

        return dump(ResourceResponse.of(self._registry.get_resource(self._p, resource_id)))

    def update_resource(self, resource_id: str, req: ResourceUpdateRequest) -> Json:
        from remit.api.schemas.resources import ResourceResponse

        changed = self._registry.update_resource(self._p, resource_id, req.to_changes())
        return dump(ResourceResponse.of(changed))

    def delete_resource(self, resource_id: str) -> None:
        self._registry.delete_resource(self._p, resource_id)

    # -- events and admin tokens ----------------------------------------------------------------------------

    def list_events(self, where: EventFilter, page: PageArgs) -> Listing:
        from remit.api.schemas.admin import EventResponse

        got = self._registry.list_events(self._p, where, self._page(page))
        return _listing(got, lambda e: dump(EventResponse.of(e)))

    def create_admin_token(self, req: AdminTokenCreateRequest) -> Json:
        from remit.api.schemas.admin import AdminTokenCreatedResponse, AdminTokenResponse

        token, secret = self._remit.admin_tokens.create(
            self._p, name=req.name, role=req.role, user_id=req.user_id, expires_at=req.expires_at
        )
        public = AdminTokenResponse.of(token).model_dump()
        return dump(AdminTokenCreatedResponse.model_validate({**public, "token": secret}))

    def list_admin_tokens(self, page: PageArgs) -> Listing:
        from remit.api.schemas.admin import AdminTokenResponse

        got = self._remit.admin_tokens.list(self._p, self._page(page))
        return _listing(got, lambda t: dump(AdminTokenResponse.of(t)))

    def revoke_admin_token(self, token_id: str) -> Json:
        from remit.api.schemas.admin import AdminTokenResponse

        return dump(AdminTokenResponse.of(self._remit.admin_tokens.revoke(self._p, token_id)))

    # -- policies and extra entities -------------------------------------------------------------------------

    def list_policies(self, page: PageArgs) -> Listing:
        from remit.api.schemas.policies import PolicyVersionSummary

        request = self._page(page)
        if request.after is not None and not request.after.isdigit():
            raise PolicyValidationError("cursor is not a value returned by a previous page")
        active = self._active_version()
        return _listing(self._remit.policies.list(self._p, request), lambda v: dump(PolicyVersionSummary.of(v, active)))

    def apply_policies(self, req: PolicyApplyRequest) -> Json:
        from remit.api.schemas.policies import PolicyVersionResponse

        version = self._remit.policies.apply(
            self._p,
            req.policies,
            schema_fragment=req.schema_,
            on_error=req.on_error,
            comment=req.comment,
            activate=req.activate,
        )
        return dump(PolicyVersionResponse.full(version, self._active_version()))

    def validate_policies(self, req: PolicyValidateRequest) -> Json:
        from remit.api.schemas.policies import PolicyValidateResponse

        count = self._remit.policies.validate(self._p, req.policies, req.schema_)
        return dump(PolicyValidateResponse(valid=True, policies=count))

    def get_policy(self, version: int | None) -> Json:
        from remit.api.schemas.policies import PolicyVersionResponse

        found = self._remit.policies.get(self._p, version)
        return dump(PolicyVersionResponse.full(found, self._active_version()))

    def diff_policies(self, old: int, new: int | None) -> Json:
        from remit.api.schemas.policies import DiffResponse

        return dump(DiffResponse(diff=self._remit.policies.diff(self._p, old, new)))

    def policy_status(self) -> Json:
        from remit.api.schemas.policies import PolicyStatusResponse

        return dump(PolicyStatusResponse.of(self._remit.policies.status(self._p)))

    def activate_policy(self, version: int, req: ActivateRequest) -> Json:
        self._remit.policies.activate(self._p, version, reason=req.reason)
        return self.policy_status()

    def rollback_policy(self, req: RollbackRequest) -> Json:
        self._remit.policies.rollback(self._p, req.to, reason=req.reason)
        return self.policy_status()

    def set_policy_mode(self, req: ModeRequest) -> Json:
        self._remit.policies.set_mode(self._p, req.mode, reason=req.reason)
        return self.policy_status()

    def policy_schema(self) -> Json:
        active = self._remit.policies.status(self._p).active
        return self._remit.policies.schema(self._p, active.schema_fragment if active else None)

    def apply_entities(self, req: EntitiesApplyRequest) -> Json:
        from remit.api.schemas.policies import EntitiesApplied

        entity_set = self._remit.policies.apply_entities(self._p, req.entities, comment=req.comment)
        return dump(EntitiesApplied(version=entity_set.version, count=len(entity_set.entities)))

    def get_entities(self) -> Json:
        from remit.api.schemas.policies import EntitiesResponse

        entity_set = self._remit.policies.entities(self._p)
        if entity_set is None:
            return dump(EntitiesResponse(version=None, entities=[]))
        return dump(EntitiesResponse(version=entity_set.version, entities=entity_set.entities))

    def decide(self, request: AuthzRequest) -> Outcome:
        from remit.policy.cases import Outcome

        return Outcome.of(self._remit.authorizer(audit_process=False).evaluate(request))

    # -- the audit log --------------------------------------------------------------------------------------

    def audit_search(self, where: AuditFilter, page: PageArgs) -> Listing:
        return _listing(self._remit.audit.query(self._p, where, self._page(page)), lambda r: r)

    def audit_stream(self, where: AuditFilter, after: int | None, *, follow: bool) -> Iterator[Json]:
        audit = self._remit.audit
        at = audit.tail(self._p, after, where, 1).last_seq if after is None else after
        while True:
            batch = audit.tail(self._p, at, where, 500)
            for _, text in batch.items:
                yield json.loads(text)
            at = batch.last_seq
            if batch.more:
                continue
            if not follow:
                return
            time.sleep(AUDIT_POLL_SECONDS)

    def audit_chain(self, after: int, limit: int) -> Json:
        from remit.api.schemas.audit import ChainResponse

        return dump(ChainResponse.of(self._remit.audit.chain(self._p, after, limit), limit))

    def audit_chain_end(self, seq: int) -> Json:
        from remit.api.schemas.audit import ChainEndResponse

        return dump(ChainEndResponse.of(self._remit.audit.sign_end(self._p, seq, self._remit.clock.now())))

    def audit_count(self) -> int | None:
        return self._remit.audit.count(self._p)

    def audit_public_key(self) -> Json:
        from remit.api.schemas.audit import PublicKeyResponse

        key = self._remit.audit.public_key
        return dump(PublicKeyResponse(key_id=key.key_id, pem=key.pem()))

    # -- agent keys (private_key_jwt) ----------------------------------------------------------------------

    def add_agent_key(self, name: str, jwk: Json) -> Json:
        from remit.api.schemas.agent_keys import AgentKeyResponse

        return dump(AgentKeyResponse.of(self._remit.agent_keys.add(self._p, name, jwk)))

    def list_agent_keys(self, name: str) -> Listing:
        from remit.api.schemas.agent_keys import AgentKeyResponse

        keys = self._remit.agent_keys.list(self._p, name)
        return Listing(items=[dump(AgentKeyResponse.of(k)) for k in keys], next_cursor=None)

    def revoke_agent_key(self, name: str, kid: str) -> Json:
        from remit.api.schemas.agent_keys import AgentKeyResponse

        return dump(AgentKeyResponse.of(self._remit.agent_keys.revoke(self._p, name, kid)))

    # -- the CA and agent certificates (mutual TLS) ----------------------------------------------------------

    def init_ca(self, req: CaInitRequest) -> Json:
        from remit.api.schemas.certificates import CaResponse

        made = self._remit.certificates.init(
            self._p, organization=req.organization, valid_days=req.valid_days, key_type=req.key_type
        )
        return dump(CaResponse.of(made))

    def get_ca(self) -> Json:
        from remit.api.schemas.certificates import CaResponse

        return dump(CaResponse.of(self._remit.certificates.ca()))

    def issue_agent_certificate(self, name: str, req: CertificateIssueRequest) -> Json:
        from remit.api.schemas.certificates import CertificateResponse

        cert = self._remit.certificates.issue(self._p, name, req.csr, req.valid_for_seconds)
        return dump(CertificateResponse.of(cert, self._remit.clock.now()))

    def list_agent_certificates(self, name: str) -> Listing:
        from remit.api.schemas.certificates import CertificateResponse

        now = self._remit.clock.now()
        certs = self._remit.certificates.list(self._p, name)
        return Listing(items=[dump(CertificateResponse.of(c, now)) for c in certs], next_cursor=None)

    def revoke_agent_certificate(self, name: str, serial: str, reason: str) -> Json:
        from remit.api.schemas.certificates import CertificateResponse

        cert = self._remit.certificates.revoke(self._p, name, serial, reason)
        return dump(CertificateResponse.of(cert, self._remit.clock.now()))

    # -- legacy API keys -------------------------------------------------------------------------------------

    def create_api_key(self, name: str, req: ApiKeyCreateRequest) -> Json:
        from remit.api.schemas.api_keys import ApiKeyCreatedResponse, ApiKeyResponse

        key, value = self._remit.legacy_keys.create(self._p, name, req.expires_at)
        public = ApiKeyResponse.of(key, self._remit.clock.now()).model_dump()
        return dump(ApiKeyCreatedResponse(**public, api_key=value))

    def list_api_keys(self, name: str) -> Listing:
        from remit.api.schemas.api_keys import ApiKeyResponse

        now = self._remit.clock.now()
        keys = self._remit.legacy_keys.list(self._p, name)
        return Listing(items=[dump(ApiKeyResponse.of(k, now)) for k in keys], next_cursor=None)

    def revoke_api_key(self, name: str, key_id: str) -> Json:
        from remit.api.schemas.api_keys import ApiKeyResponse

        key = self._remit.legacy_keys.revoke(self._p, name, key_id)
        return dump(ApiKeyResponse.of(key, self._remit.clock.now()))

    def api_key_report(self, page: PageArgs) -> Listing:
        from remit.api.schemas.api_keys import ApiKeyReportItem

        now = self._remit.clock.now()
        got = self._remit.legacy_keys.report(self._p, self._page(page))
        return _listing(got, lambda item: dump(ApiKeyReportItem.of_owned(item[0], item[1], now)))

    def get_agent_client(self, name: str) -> Json:
        from remit.api.schemas.agent_clients import AgentClientResponse

        return dump(AgentClientResponse.of(self._remit.agent_clients.get(self._p, name)))

    def set_agent_client(self, name: str, *, dpop_bound_access_tokens: bool) -> Json:
        from remit.api.schemas.agent_clients import AgentClientResponse

        client = self._remit.agent_clients.update(self._p, name, dpop_bound_access_tokens=dpop_bound_access_tokens)
        return dump(AgentClientResponse.of(client))

    # -- registration tokens (RFC 7591 initial access tokens) ----------------------------------------------

    def create_registration_token(self, req: RegistrationTokenCreateRequest) -> Json:
        from remit.api.routes.registration import DEFAULT_LIFETIME
        from remit.api.schemas.registration import RegistrationTokenCreatedResponse, RegistrationTokenResponse

        if (req.owner is None) == (not req.any_owner):
            raise ValidationError("give exactly one of owner and any_owner", field="owner")
        now = self._remit.clock.now()
        token, value = self._remit.registration_tokens.create(
            self._p,
            owner=req.owner,
            expires_at=req.expires_at or now + DEFAULT_LIFETIME,
            max_uses=req.max_uses,
            name=req.name,
        )
        public = RegistrationTokenResponse.of(token, now).model_dump()
        return dump(RegistrationTokenCreatedResponse(**public, token=value))

    def list_registration_tokens(self, page: PageArgs) -> Listing:
        from remit.api.schemas.registration import RegistrationTokenResponse

        now = self._remit.clock.now()
        got = self._remit.registration_tokens.list(self._p, self._page(page))
        return _listing(got, lambda t: dump(RegistrationTokenResponse.of(t, now)))

    def revoke_registration_token(self, token_id: str) -> Json:
        from remit.api.schemas.registration import RegistrationTokenResponse

        token = self._remit.registration_tokens.revoke(self._p, token_id)
        return dump(RegistrationTokenResponse.of(token, self._remit.clock.now()))

    # -- token signing keys ----------------------------------------------------------------------------------

    def list_keys(self) -> Listing:
        from remit.api.schemas.keys import KeyResponse

        now = self._remit.clock.now()
        keys = self._remit.signing_keys.list(self._p)
        return Listing(items=[dump(KeyResponse.of(k, now)) for k in keys], next_cursor=None)

    def rotate_keys(self, req: KeyRotateRequest) -> Json:
        from remit.api.schemas.keys import KeyResponse, KeyRotateResponse

        rotation = self._remit.signing_keys.rotate(self._p, reason=req.reason, revoke_previous=req.revoke_previous)
        now = self._remit.clock.now()
        retired = KeyResponse.of(rotation.retired, now) if rotation.retired is not None else None
        return dump(KeyRotateResponse(active=KeyResponse.of(rotation.active, now), retired=retired))

    def jwks(self) -> Json:
        return self._remit.signing_keys.jwks()

    # -- agents' access tokens -------------------------------------------------------------------------------

    def revoke_access_token(self, req: TokenRevokeRequest) -> Json:
        from remit.api.schemas.access_tokens import TokenRevokeResponse

        self._remit.audit_log.start()  # the revocation is recorded before it is reported
        got = self._remit.token_revocation.revoke(
            self._p, token=req.token, jti=req.jti, agent=req.agent, reason=req.reason
        )
        return dump(TokenRevokeResponse.of(got))

    # the local operator only: no HTTP equivalent

    def audit_seal(self) -> int | None:
        """Sign the chain's end now (before an export), if it is not signed yet."""
        return self._remit.audit.seal(self._remit.clock.now())

    def audit_verify(self, keys: list[PublicKey] | None) -> Report:
        return self._remit.audit.verify(None, keys)

    def audit_prune(self, older_than_days: int) -> tuple[int, datetime]:
        """Delete what retention allows; (records deleted, the cut-off)."""
        before = self._remit.clock.now() - timedelta(days=older_than_days)
        return self._remit.audit.prune(before), before

    def _active_version(self) -> int | None:
        return self._remit.policies.status(self._p).control.active_policy_version

    # -- shared ---------------------------------------------------------------------------------------------

    def _page(self, page: PageArgs) -> PageRequest:
        api = self._settings.api
        limit = api.default_page_size if page.limit is None else check_limit(page.limit, api.max_page_size)
        return PageRequest(limit=limit, after=decode_cursor(page.cursor))


def _listing(page: Page[T], render: Callable[[T], Json]) -> Listing:
    return Listing(items=[render(item) for item in page.items], next_cursor=encode_cursor(page.next_after))
