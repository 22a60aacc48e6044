"""The ``Backend`` protocol: what every command needs, served locally (``local.py``) or over HTTP (``remote.py``).

Both implementations return the same JSON-ready dicts, shaped by the API's response models, so a command's
output is identical whichever way it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

if TYPE_CHECKING:  # the request models (pydantic), the policy engine and the store load only when a command
    # runs, never for `--help`
    from remit.api.schemas.access_tokens import TokenRevokeRequest
    from remit.api.schemas.admin import AdminTokenCreateRequest
    from remit.api.schemas.agents import AgentCreateRequest, AgentUpdateRequest
    from remit.api.schemas.api_keys import ApiKeyCreateRequest
    from remit.api.schemas.certificates import CaInitRequest, CertificateIssueRequest
    from remit.api.schemas.common import StatusChangeRequest
    from remit.api.schemas.keys import KeyRotateRequest  # brings cryptography: only key commands need it
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
    from remit.policy.cases import Outcome
    from remit.policy.model import AuthzRequest
    from remit.registry.models import AgentAction
    from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
    from remit.store.audit import AuditFilter

Json = dict[str, Any]
MemberKind = Literal["agent", "user"]


class Listing(TypedDict):
    """One page of a listing, as the HTTP API returns it."""

    items: list[Json]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PageArgs:
    limit: int | None = None  #: None: the server's default page size
    cursor: str | None = None


class Backend(Protocol):
    """Admin operations on one Remit estate."""

    #: where the operations go, for messages: ``local /path/to/home`` or the server URL
    location: str

    def whoami(self) -> Json: ...

    def create_agent(self, req: AgentCreateRequest) -> Json: ...
    def list_agents(self, where: AgentFilter, page: PageArgs) -> Listing: ...
    def get_agent(self, name: str) -> Json: ...
    def update_agent(self, name: str, req: AgentUpdateRequest) -> Json: ...
    def change_agent_status(self, name: str, verb: AgentAction, req: StatusChangeRequest) -> Json: ...

    def create_user(self, req: UserCreateRequest) -> Json: ...
    def list_users(self, where: UserFilter, page: PageArgs) -> Listing: ...
    def get_user(self, user_id: str) -> Json: ...
    def update_user(self, user_id: str, req: UserUpdateRequest) -> Json: ...

    def create_role(self, req: RoleCreateRequest) -> Json: ...
    def list_roles(self, where: RoleFilter, page: PageArgs) -> Listing: ...
    def get_role(self, name: str) -> Json: ...
    def update_role(self, name: str, req: RoleUpdateRequest) -> Json: ...
    def delete_role(self, name: str) -> None: ...
    def set_role_member(self, role: str, kind: MemberKind, member_id: str, member: bool) -> Json: ...

    def create_resource(self, req: ResourceCreateRequest) -> Json: ...
    def list_resources(self, where: ResourceFilter, page: PageArgs) -> Listing: ...
    def get_resource(self, resource_id: str) -> Json: ...
    def update_resource(self, resource_id: str, req: ResourceUpdateRequest) -> Json: ...
    def delete_resource(self, resource_id: str) -> None: ...

    def list_events(self, where: EventFilter, page: PageArgs) -> Listing: ...

    def create_admin_token(self, req: AdminTokenCreateRequest) -> Json: ...
    def list_admin_tokens(self, page: PageArgs) -> Listing: ...
    def revoke_admin_token(self, token_id: str) -> Json: ...

    def list_policies(self, page: PageArgs) -> Listing: ...
    def apply_policies(self, req: PolicyApplyRequest) -> Json: ...
    def validate_policies(self, req: PolicyValidateRequest) -> Json: ...
    def get_policy(self, version: int | None) -> Json:
        """A version with its text; ``None``: the active one."""
        ...

    def diff_policies(self, old: int, new: int | None) -> Json: ...
    def policy_status(self) -> Json: ...
    def activate_policy(self, version: int, req: ActivateRequest) -> Json: ...
    def rollback_policy(self, req: RollbackRequest) -> Json: ...
    def set_policy_mode(self, req: ModeRequest) -> Json: ...
    def policy_schema(self) -> Json: ...
    def apply_entities(self, req: EntitiesApplyRequest) -> Json: ...
    def get_entities(self) -> Json: ...
    def decide(self, request: AuthzRequest) -> Outcome:
        """Evaluate one request with the active policy set. Locally the outcome names the determining policies
        of every decision; a server's AuthZEN answer names them only on deny."""
        ...

    def audit_search(self, where: AuditFilter, page: PageArgs) -> Listing:
        """Audit records, newest first (``GET /v1/audit``)."""
        ...

    def audit_stream(self, where: AuditFilter, after: int | None, *, follow: bool) -> Iterator[Json]:
        """Records after seq ``after`` (None: from now on) matching ``where``, oldest first. ``follow``: wait for new
        ones for ever (Ctrl-C ends it); else end once caught up with the log."""
        ...

    def audit_chain(self, after: int, limit: int) -> Json:
        """Stored rows of the chain after ``after``, with their checkpoints (``GET /v1/audit/chain``)."""
        ...

    def audit_chain_end(self, seq: int) -> Json:
        """Where an export ending at record ``seq`` starts and ends, signed (``GET /v1/audit/chain/end``)."""
        ...

    def audit_count(self) -> int | None:
        """How many records the log holds; None when the backend cannot say cheaply."""
        ...

    def audit_public_key(self) -> Json: ...

    def add_agent_key(self, name: str, jwk: Json) -> Json:
        """Register a public key the agent authenticates with (``POST /v1/agents/{name}/keys``)."""
        ...

    def list_agent_keys(self, name: str) -> Listing:
        """The agent's keys, oldest first: one page holds them all."""
        ...

    def revoke_agent_key(self, name: str, kid: str) -> Json: ...

    def init_ca(self, req: CaInitRequest) -> Json:
        """Make Remit's CA for agents (``POST /v1/ca``); refused when it exists."""
        ...

    def get_ca(self) -> Json:
        """Remit's CA certificate (``GET /v1/ca``)."""
        ...

    def issue_agent_certificate(self, name: str, req: CertificateIssueRequest) -> Json:
        """Sign a client certificate from the agent's CSR (``POST /v1/agents/{name}/certificates``)."""
        ...

    def list_agent_certificates(self, name: str) -> Listing:
        """The agent's certificates, oldest first: one page holds them all."""
        ...

    def revoke_agent_certificate(self, name: str, serial: str, reason: str) -> Json: ...

    def create_api_key(self, name: str, req: ApiKeyCreateRequest) -> Json:
        """Mint a legacy API key (``POST /v1/agents/{name}/api-keys``); the answer holds its value once."""
        ...

    def list_api_keys(self, name: str) -> Listing:
        """The agent's legacy API keys, oldest first: one page holds them all."""
        ...

    def revoke_api_key(self, name: str, key_id: str) -> Json: ...

    def create_registration_token(self, req: RegistrationTokenCreateRequest) -> Json:
        """Mint an initial access token for ``/oauth/register``; the answer holds its value once."""
        ...

    def list_registration_tokens(self, page: PageArgs) -> Listing: ...
    def revoke_registration_token(self, token_id: str) -> Json: ...
    def api_key_report(self, page: PageArgs) -> Listing:
        """Every legacy API key the caller may see, with owner, expiry, last use, use count (``GET /v1/api-keys``)."""
        ...

    def get_agent_client(self, name: str) -> Json:
        """The agent's OAuth client metadata (``GET /v1/agents/{name}/client``)."""
        ...

    def set_agent_client(self, name: str, *, dpop_bound_access_tokens: bool) -> Json:
        """Set the agent's OAuth client metadata (``PUT /v1/agents/{name}/client``)."""
        ...

    def list_keys(self) -> Listing:
        """Every token signing key, newest first (``GET /v1/keys``): one page holds them all."""
        ...

    def rotate_keys(self, req: KeyRotateRequest) -> Json: ...
    def jwks(self) -> Json:
        """The published JWK Set (``GET /.well-known/jwks.json``)."""
        ...

    def revoke_access_token(self, req: TokenRevokeRequest) -> Json:
        """Revoke an agent's access token by the token or its jti (``POST /v1/tokens/revoke``)."""
        ...

    def close(self) -> None: ...


def collect(fetch: Callable[[PageArgs], Listing], page: PageArgs, walk_all: bool) -> Listing:
    """One page, or with ``walk_all`` every page from ``page.cursor`` on, joined into one listing."""
    first = fetch(page)
    if not walk_all:
        return first
    items = list(first["items"])
    cursor = first["next_cursor"]
    seen: set[str] = set()
    while cursor is not None and cursor not in seen:
        seen.add(cursor)
        nxt = fetch(PageArgs(limit=page.limit, cursor=cursor))
        items.extend(nxt["items"])
        cursor = nxt["next_cursor"]
    return Listing(items=items, next_cursor=None)
