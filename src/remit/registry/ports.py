"""What the registry needs from a store. Adapter: ``remit.store.repository.SqlStore``.

Implementations MUST run everything done through one ``RegistryTx`` in one database transaction, commit it
when the ``with`` block ends normally and roll it back when it raises, and MUST raise
``remit.errors.Conflict`` for a duplicate key and ``remit.errors.StoreError`` (with the cause chained, the
detail not shown) for any database failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from remit.admin.tokens import AdminToken
from remit.audit.events import ChangeEvent
from remit.paging import Page, PageRequest
from remit.registry.models import Agent, AgentStatus, Resource, ResourceKind, RiskTier, Role, User, UserStatus


@dataclass(frozen=True, slots=True)
class AgentFilter:
    owner: str | None = None
    status: AgentStatus | None = None
    team: str | None = None
    environment: str | None = None
    risk_tier: RiskTier | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class UserFilter:
    status: UserStatus | None = None
    only_id: str | None = None


@dataclass(frozen=True, slots=True)
class RoleFilter:
    agent: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    kind: ResourceKind | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    target_type: str | None = None
    target_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class RegistryTx(Protocol):
    """One transaction over the registry."""

    # agents
    def get_agent(self, name: str) -> Agent | None: ...
    def get_agents(self, names: Sequence[str]) -> dict[str, Agent]:
        """The agents of these names that exist, by name."""
        ...

    def list_agents(self, where: AgentFilter, page: PageRequest) -> Page[Agent]: ...
    def insert_agent(self, agent: Agent) -> None: ...
    def update_agent(self, agent: Agent) -> None: ...

    # users
    def get_user(self, user_id: str) -> User | None: ...
    def get_user_by_email(self, email: str) -> User | None: ...
    def list_users(self, where: UserFilter, page: PageRequest) -> Page[User]: ...
    def insert_user(self, user: User) -> None: ...
    def update_user(self, user: User) -> None: ...

    # roles
    def get_role(self, name: str) -> Role | None: ...
    def list_roles(self, where: RoleFilter, page: PageRequest) -> Page[Role]: ...
    def insert_role(self, role: Role) -> None: ...
    def update_role(self, role: Role) -> None: ...
    def delete_role(self, name: str) -> None: ...
    def set_agent_member(self, role: str, agent: str, member: bool) -> bool:
        """Add or remove; return whether anything changed."""
        ...

    def set_user_member(self, role: str, user_id: str, member: bool) -> bool: ...

    # resources
    def get_resource(self, resource_id: str) -> Resource | None: ...
    def list_resources(self, where: ResourceFilter, page: PageRequest) -> Page[Resource]: ...
    def insert_resource(self, resource: Resource) -> None: ...
    def update_resource(self, resource: Resource) -> None: ...
    def delete_resource(self, resource_id: str) -> None: ...
    def count_children(self, resource_id: str) -> int: ...
    def roles_referencing(self, resource_id: str) -> list[str]: ...

    # events
    def add_event(self, event: ChangeEvent) -> None: ...
    def announce(self, kind: str, id_: str) -> None:
        """The status (or an agent's owner) of the ``agent`` or ``user`` ``id_`` changed: once this transaction commits,
        the policy guard of this process, and of every server of the store that can be told, has it for its next
        decision."""
        ...

    def list_events(self, where: EventFilter, page: PageRequest) -> Page[ChangeEvent]: ...

    # admin tokens
    def insert_admin_token(self, token: AdminToken) -> None: ...
    def get_admin_token(self, token_id: str) -> AdminToken | None: ...
    def find_admin_token(self, digest: str) -> AdminToken | None: ...
    def list_admin_tokens(self, page: PageRequest) -> Page[AdminToken]: ...
    def update_admin_token(self, token: AdminToken) -> None: ...


class RegistryStore(Protocol):
    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[RegistryTx]: ...
    def local_writes(self) -> int:
        """How many writing transactions this process has committed (for invalidating local caches)."""
        ...
