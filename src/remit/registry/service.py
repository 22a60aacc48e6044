"""Registry use cases: register and manage agents, users, roles and resources.

Every operation is authorized by ``remit.admin.access.authorize`` and every change is written, in the same
transaction, as a ``ChangeEvent`` with the object before and after.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from remit.admin.access import (
    Act,
    AdminPrincipal,
    AgentTarget,
    UserTarget,
    authorize,
    is_allowed,
    owner_scope,
    sees_every,
    user_scope,
    visible,
)
from remit.audit.events import ChangeEvent
from remit.clock import Clock
from remit.errors import Conflict, NotFound, ValidationError
from remit.ids import new_id
from remit.paging import Page, PageRequest
from remit.registry.models import (
    ACTION_RULE,
    AGENT_NAME,
    EMAIL,
    EMAIL_RULE,
    LABEL_RULE,
    NAME_RULE,
    RESOURCE_ID,
    RESOURCE_ID_RULE,
    ROLE_NAME,
    USER_ID,
    Agent,
    AgentAction,
    AgentStatus,
    Attributes,
    Permission,
    Resource,
    ResourceKind,
    RiskTier,
    Role,
    Sensitivity,
    User,
    UserStatus,
    check_attributes,
    check_parent,
    check_text,
    spiffe_id,
    transition,
)
from remit.registry.ports import (
    AgentFilter,
    EventFilter,
    RegistryStore,
    RegistryTx,
    ResourceFilter,
    RoleFilter,
    UserFilter,
)

if TYPE_CHECKING:
    from remit.settings import Settings

ACTION_NAME = re.compile(r"^[a-z][a-z0-9_:.-]{0,63}$")
LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_PERMISSIONS = 256


# -- inputs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentDraft:
    name: str
    owner: str
    purpose: str = ""
    team: str = ""
    environment: str = "production"
    risk_tier: RiskTier = RiskTier.MEDIUM
    clearance: int = 0
    attributes: Attributes = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentChanges:
    """Fields to change; None leaves a field as it is."""

    owner: str | None = None
    purpose: str | None = None
    team: str | None = None
    environment: str | None = None
    risk_tier: RiskTier | None = None
    clearance: int | None = None
    attributes: Attributes | None = None
    review_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserDraft:
    id: str
    email: str
    display_name: str = ""
    attributes: Attributes = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserChanges:
    email: str | None = None
    display_name: str | None = None
    status: UserStatus | None = None
    attributes: Attributes | None = None


@dataclass(frozen=True, slots=True)
class RoleDraft:
    name: str
    description: str = ""
    permissions: tuple[Permission, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleChanges:
    description: str | None = None
    permissions: tuple[Permission, ...] | None = None


@dataclass(frozen=True, slots=True)
class ResourceDraft:
    id: str
    kind: ResourceKind
    display_name: str = ""
    parent: str | None = None
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    data_classes: tuple[str, ...] = ()
    attributes: Attributes = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceChanges:
    display_name: str | None = None
    sensitivity: Sensitivity | None = None
    data_classes: tuple[str, ...] | None = None
    attributes: Attributes | None = None


# -- the service ----------------------------------------------------------------------------------------


class RegistryService:
    def __init__(self, store: RegistryStore, clock: Clock, *, trust_domain: str, review_interval: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._trust_domain = trust_domain
        self._review_interval = review_interval

    @classmethod
    def from_settings(cls, settings: Settings, store: RegistryStore, clock: Clock) -> RegistryService:
        """The service as every process wires it: ``Remit.from_settings``, and the CLI's registry commands."""
        review_interval = timedelta(days=settings.review_interval_days)
        return cls(store, clock, trust_domain=settings.trust_domain, review_interval=review_interval)

    # agents ---------------------------------------------------------------------------------------------

    def create_agent(self, p: AdminPrincipal, draft: AgentDraft) -> Agent:
        authorize(p, Act.AGENT_CREATE, AgentTarget(owner=draft.owner, status=AgentStatus.ACTIVE.value))
        _match(AGENT_NAME, draft.name, "name", NAME_RULE)
        if _classified(draft) != _classified(AgentDraft(name=draft.name, owner=draft.owner)):
            # an owner registers an agent; what policies read about it (clearance, tier, ...) is set by an admin
            authorize(p, Act.AGENT_CLASSIFY, AgentTarget(owner=draft.owner, status="active", name=draft.name))
        now = self._clock.now()
        agent = Agent(
            name=draft.name,
            spiffe_id=spiffe_id(self._trust_domain, draft.name),
            owner=draft.owner,
            purpose=check_text(draft.purpose, "purpose", 1000),
            status=AgentStatus.ACTIVE,
            status_reason="registered",
            team=_label(draft.team, "team"),
            environment=_label(draft.environment, "environment"),
            risk_tier=draft.risk_tier,
            clearance=_clearance(draft.clearance),
            created_at=now,
            updated_at=now,
            review_due_at=now + self._review_interval,
            attributes=check_attributes(draft.attributes),
        )
        with self._store.transaction() as tx:
            _require_active_owner(tx, draft.owner)
            if tx.get_agent(draft.name) is not None:
                raise Conflict(f"an agent named {draft.name!r} already exists", field="name")
            tx.insert_agent(agent)
            self._record(tx, p, "agent.create", "agent", agent.name, None, agent)
        return agent

    def get_agent(self, p: AdminPrincipal, name: str) -> Agent:
        with self._store.transaction(readonly=True) as tx:
            agent = _get_agent(tx, name)
            authorize(p, Act.AGENT_READ, _agent_target(agent))
            return agent

    def list_agents(self, p: AdminPrincipal, where: AgentFilter, page: PageRequest) -> Page[Agent]:
        scope = owner_scope(p)  # a caller who may read no agent at all is refused, not answered an empty page
        if scope is not None:
            if where.owner not in (None, scope):
                return Page(items=(), next_after=None)
            where = replace(where, owner=scope)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_agents(where, page)

    def update_agent(self, p: AdminPrincipal, name: str, changes: AgentChanges) -> Agent:
        with self._store.transaction() as tx:
            before = _get_agent(tx, name)
            authorize(p, Act.AGENT_UPDATE, _agent_target(before))
            if before.status is AgentStatus.RETIRED:
                raise Conflict(f"agent {name!r} is retired and can no longer be changed")
            after = before
            if changes.owner is not None and changes.owner != before.owner:
                authorize(p, Act.AGENT_TRANSFER, AgentTarget(owner=changes.owner, status=before.status.value))
                _require_active_owner(tx, changes.owner)
                after = replace(after, owner=changes.owner)
            classified = (
                changes.team,
                changes.environment,
                changes.risk_tier,
                changes.clearance,
                changes.attributes,
                changes.review_due_at,
            )
            if any(value is not None for value in classified):
                # what policies read about an agent is not for its owner to raise
                authorize(p, Act.AGENT_CLASSIFY, _agent_target(before))
            if changes.purpose is not None:
                after = replace(after, purpose=check_text(changes.purpose, "purpose", 1000))
            if changes.team is not None:
                after = replace(after, team=_label(changes.team, "team"))
            if changes.environment is not None:
                after = replace(after, environment=_label(changes.environment, "environment"))
            if changes.risk_tier is not None:
                after = replace(after, risk_tier=changes.risk_tier)
            if changes.clearance is not None:
                after = replace(after, clearance=_clearance(changes.clearance))
            if changes.attributes is not None:
                after = replace(after, attributes=check_attributes(changes.attributes))
            if changes.review_due_at is not None:
                after = replace(after, review_due_at=changes.review_due_at)
            if after == before:
                return before
            after = replace(after, updated_at=self._clock.now())
            tx.update_agent(after)
            self._record(tx, p, "agent.update", "agent", name, before, after)
            if after.owner != before.owner:  # the guard checks the new owner's status from the next decision
                tx.announce("agent", name)
            return after

    def change_agent_status(self, p: AdminPrincipal, name: str, verb: AgentAction, reason: str) -> Agent:
        act = {
            AgentAction.SUSPEND: Act.AGENT_SUSPEND,
            AgentAction.RESUME: Act.AGENT_RESUME,
            AgentAction.QUARANTINE: Act.AGENT_QUARANTINE,
            AgentAction.RETIRE: Act.AGENT_RETIRE,
        }[verb]
        check_text(reason, "reason", 1000)
        with self._store.transaction() as tx:
            before = _get_agent(tx, name)
            authorize(p, act, _agent_target(before))
            after = transition(before, verb, reason, self._clock.now())
            tx.update_agent(after)
            self._record(tx, p, f"agent.{verb.value}", "agent", name, before, after, reason=reason.strip())
            tx.announce("agent", name)  # in force for the policy guard on the next decision, not the next compile
            return after

    # users ----------------------------------------------------------------------------------------------

    def create_user(self, p: AdminPrincipal, draft: UserDraft) -> User:
        authorize(p, Act.USER_CREATE)
        _match(USER_ID, draft.id, "id", NAME_RULE)
        now = self._clock.now()
        user = User(
            id=draft.id,
            email=_email(draft.email),
            display_name=check_text(draft.display_name, "display_name", 200),
            status=UserStatus.ACTIVE,
            created_at=now,
            updated_at=now,
            attributes=check_attributes(draft.attributes),
        )
        with self._store.transaction() as tx:
            if tx.get_user(user.id) is not None:
                raise Conflict(f"a user with id {user.id!r} already exists", field="id")
            if tx.get_user_by_email(user.email) is not None:
                raise Conflict(f"a user with email {user.email!r} already exists", field="email")
            tx.insert_user(user)
            self._record(tx, p, "user.create", "user", user.id, None, user)
        return user

    def get_user(self, p: AdminPrincipal, user_id: str) -> User:
        authorize(p, Act.USER_READ, UserTarget(id=user_id))
        with self._store.transaction(readonly=True) as tx:
            user = tx.get_user(user_id)
            if user is None:
                raise NotFound(f"no such user {user_id!r}", field="id")
            return user

    def list_users(self, p: AdminPrincipal, where: UserFilter, page: PageRequest) -> Page[User]:
        scope = user_scope(p)  # as for agents: refused to a caller who may read no user
        if scope is not None:
            where = replace(where, only_id=scope)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_users(where, page)

    def update_user(self, p: AdminPrincipal, user_id: str, changes: UserChanges) -> User:
        authorize(p, Act.USER_UPDATE, UserTarget(id=user_id))
        with self._store.transaction() as tx:
            before = tx.get_user(user_id)
            if before is None:
                raise NotFound(f"no such user {user_id!r}", field="id")
            after = before
            if changes.email is not None and changes.email != before.email:
                email = _email(changes.email)
                other = tx.get_user_by_email(email)
                if other is not None and other.id != user_id:
                    raise Conflict(f"a user with email {email!r} already exists", field="email")
                after = replace(after, email=email)
            if changes.display_name is not None:
                after = replace(after, display_name=check_text(changes.display_name, "display_name", 200))
            if changes.status is not None:
                after = replace(after, status=changes.status)
            if changes.attributes is not None:
                after = replace(after, attributes=check_attributes(changes.attributes))
            if after == before:
                return before
            after = replace(after, updated_at=self._clock.now())
            tx.update_user(after)
            self._record(tx, p, "user.update", "user", user_id, before, after)
            if after.status != before.status:  # in force for the policy guard on the next decision
                tx.announce("user", user_id)
            return after

    # roles ----------------------------------------------------------------------------------------------

    def create_role(self, p: AdminPrincipal, draft: RoleDraft) -> Role:
        authorize(p, Act.ROLE_CREATE)
        _match(ROLE_NAME, draft.name, "name", NAME_RULE)
        now = self._clock.now()
        with self._store.transaction() as tx:
            role = Role(
                name=draft.name,
                description=check_text(draft.description, "description", 1000),
                permissions=_permissions(tx, draft.permissions),
                created_at=now,
                updated_at=now,
            )
            if tx.get_role(role.name) is not None:
                raise Conflict(f"a role named {role.name!r} already exists", field="name")
            tx.insert_role(role)
            self._record(tx, p, "role.create", "role", role.name, None, role)
        return role

    def get_role(self, p: AdminPrincipal, name: str) -> Role:
        """The role, with only the members ``p`` may see."""
        authorize(p, Act.ROLE_READ)
        with self._store.transaction(readonly=True) as tx:
            return _seen_by(tx, p, _get_role(tx, name))

    def list_roles(self, p: AdminPrincipal, where: RoleFilter, page: PageRequest) -> Page[Role]:
        """Roles by name, each with only the members ``p`` may see. Filtered by an agent or user ``p`` may not see,
        the answer is the one for an agent or user that does not exist: no roles."""
        authorize(p, Act.ROLE_READ)
        with self._store.transaction(readonly=True) as tx:
            if where.agent is not None and not _sees_agent(tx, p, where.agent):
                return Page(items=(), next_after=None)
            if where.user is not None and not is_allowed(p, Act.USER_READ, UserTarget(id=where.user)):
                return Page(items=(), next_after=None)
            found = tx.list_roles(where, page)
            return replace(found, items=tuple(_seen_by(tx, p, role) for role in found.items))

    def update_role(self, p: AdminPrincipal, name: str, changes: RoleChanges) -> Role:
        authorize(p, Act.ROLE_UPDATE)
        with self._store.transaction() as tx:
            before = _get_role(tx, name)
            after = before
            if changes.description is not None:
                after = replace(after, description=check_text(changes.description, "description", 1000))
            if changes.permissions is not None:
                after = replace(after, permissions=_permissions(tx, changes.permissions))
            if after == before:
                return _seen_by(tx, p, before)
            after = replace(after, updated_at=self._clock.now())
            tx.update_role(after)
            self._record(tx, p, "role.update", "role", name, before, after)
            return _seen_by(tx, p, after)

    def delete_role(self, p: AdminPrincipal, name: str) -> None:
        authorize(p, Act.ROLE_DELETE)
        with self._store.transaction() as tx:
            before = _get_role(tx, name)
            tx.delete_role(name)
            self._record(tx, p, "role.delete", "role", name, before, None)

    def assign_agent(self, p: AdminPrincipal, role: str, agent_name: str, member: bool) -> Role:
        authorize(p, Act.ROLE_ASSIGN)
        with self._store.transaction() as tx:
            before = _get_role(tx, role)
            agent = _get_agent(tx, agent_name)
            if member and agent.status is AgentStatus.RETIRED:
                raise Conflict(f"agent {agent_name!r} is retired", field="agent")
            if not tx.set_agent_member(role, agent_name, member):
                return _seen_by(tx, p, before)
            after = _get_role(tx, role)
            verb = "role.assign" if member else "role.unassign"
            self._record(tx, p, verb, "role", role, before, after, extra={"agent": agent_name})
            return _seen_by(tx, p, after)

    def assign_user(self, p: AdminPrincipal, role: str, user_id: str, member: bool) -> Role:
        authorize(p, Act.ROLE_ASSIGN)
        with self._store.transaction() as tx:
            before = _get_role(tx, role)
            if tx.get_user(user_id) is None:
                raise NotFound(f"no such user {user_id!r}", field="user")
            if not tx.set_user_member(role, user_id, member):
                return _seen_by(tx, p, before)
            after = _get_role(tx, role)
            verb = "role.assign" if member else "role.unassign"
            self._record(tx, p, verb, "role", role, before, after, extra={"user": user_id})
            return _seen_by(tx, p, after)

    # resources ------------------------------------------------------------------------------------------

    def create_resource(self, p: AdminPrincipal, draft: ResourceDraft) -> Resource:
        authorize(p, Act.RESOURCE_CREATE)
        _match(RESOURCE_ID, draft.id, "id", RESOURCE_ID_RULE)
        now = self._clock.now()
        with self._store.transaction() as tx:
            parent = tx.get_resource(draft.parent) if draft.parent is not None else None
            check_parent(draft.kind, parent, draft.parent)
            resource = Resource(
                id=draft.id,
                kind=draft.kind,
                display_name=check_text(draft.display_name, "display_name", 200),
                parent=draft.parent,
                sensitivity=draft.sensitivity,
                data_classes=_labels(draft.data_classes, "data_classes"),
                created_at=now,
                updated_at=now,
                attributes=check_attributes(draft.attributes),
            )
            if tx.get_resource(resource.id) is not None:
                raise Conflict(f"a resource with id {resource.id!r} already exists", field="id")
            tx.insert_resource(resource)
            self._record(tx, p, "resource.create", "resource", resource.id, None, resource)
        return resource

    def get_resource(self, p: AdminPrincipal, resource_id: str) -> Resource:
        authorize(p, Act.RESOURCE_READ)
        with self._store.transaction(readonly=True) as tx:
            return _get_resource(tx, resource_id)

    def list_resources(self, p: AdminPrincipal, where: ResourceFilter, page: PageRequest) -> Page[Resource]:
        authorize(p, Act.RESOURCE_READ)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_resources(where, page)

    def update_resource(self, p: AdminPrincipal, resource_id: str, changes: ResourceChanges) -> Resource:
        authorize(p, Act.RESOURCE_UPDATE)
        with self._store.transaction() as tx:
            before = _get_resource(tx, resource_id)
            after = before
            if changes.display_name is not None:
                after = replace(after, display_name=check_text(changes.display_name, "display_name", 200))
            if changes.sensitivity is not None:
                after = replace(after, sensitivity=changes.sensitivity)
            if changes.data_classes is not None:
                after = replace(after, data_classes=_labels(changes.data_classes, "data_classes"))
            if changes.attributes is not None:
                after = replace(after, attributes=check_attributes(changes.attributes))
            if after == before:
                return before
            after = replace(after, updated_at=self._clock.now())
            tx.update_resource(after)
            self._record(tx, p, "resource.update", "resource", resource_id, before, after)
            return after

    def delete_resource(self, p: AdminPrincipal, resource_id: str) -> None:
        authorize(p, Act.RESOURCE_DELETE)
        with self._store.transaction() as tx:
            before = _get_resource(tx, resource_id)
            children = tx.count_children(resource_id)
            if children:
                raise Conflict(f"resource {resource_id!r} still has {children} child resource(s); delete them first")
            roles = tx.roles_referencing(resource_id)
            if roles:
                raise Conflict(f"resource {resource_id!r} is named by role(s) {', '.join(roles)}; change them first")
            tx.delete_resource(resource_id)
            self._record(tx, p, "resource.delete", "resource", resource_id, before, None)

    # events ---------------------------------------------------------------------------------------------

    def list_events(self, p: AdminPrincipal, where: EventFilter, page: PageRequest) -> Page[ChangeEvent]:
        authorize(p, Act.EVENT_READ)
        with self._store.transaction(readonly=True) as tx:
            return tx.list_events(where, page)

    # shared ---------------------------------------------------------------------------------------------

    def _record(
        self,
        tx: RegistryTx,
        p: AdminPrincipal,
        action: str,
        target_type: str,
        target_id: str,
        before: object | None,
        after: object | None,
        *,
        reason: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        tx.add_event(
            ChangeEvent(
                id=new_id("evt"),
                at=self._clock.now(),
                actor=p.actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                before=snapshot(before),
                after=snapshot(after),
                reason=reason,
                extra=extra or {},
            )
        )


def snapshot(obj: object | None) -> dict[str, Any] | None:
    """A JSON-ready copy of a domain value for a change event."""
    if obj is None:
        return None
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"cannot snapshot {type(obj).__name__}")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        out[f.name] = _jsonable(getattr(obj, f.name))
    return out


def _jsonable(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return snapshot(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _sees_agent(tx: RegistryTx, p: AdminPrincipal, name: str) -> bool:
    """Whether ``p`` may read the agent ``name``; False for one that does not exist, the same answer."""
    if sees_every(p, Act.AGENT_READ):
        return True
    agent = tx.get_agent(name)
    return agent is not None and is_allowed(p, Act.AGENT_READ, _agent_target(agent))


def _seen_by(tx: RegistryTx, p: AdminPrincipal, role: Role) -> Role:
    """``role`` with only the member agents and users ``p`` may read: an owner sees their own agents and
    themselves, not who else holds the role."""
    agents, users = role.agents, role.users
    if agents and not sees_every(p, Act.AGENT_READ):
        found = tx.get_agents(agents)
        agents = visible(p, Act.AGENT_READ, ((n, _agent_target(found[n])) for n in agents if n in found))
    if users and not sees_every(p, Act.USER_READ):
        users = visible(p, Act.USER_READ, ((u, UserTarget(id=u)) for u in users))
    return replace(role, agents=agents, users=users)


def _classified(draft: AgentDraft) -> tuple[object, ...]:
    return (draft.team, draft.environment, draft.risk_tier, draft.clearance, draft.attributes)


def _agent_target(agent: Agent) -> AgentTarget:
    return AgentTarget(owner=agent.owner, status=agent.status.value, name=agent.name)


def _get_agent(tx: RegistryTx, name: str) -> Agent:
    agent = tx.get_agent(name)
    if agent is None:
        raise NotFound(f"no such agent {name!r}", field="name")
    return agent


def _get_role(tx: RegistryTx, name: str) -> Role:
    role = tx.get_role(name)
    if role is None:
        raise NotFound(f"no such role {name!r}", field="name")
    return role


def _get_resource(tx: RegistryTx, resource_id: str) -> Resource:
    resource = tx.get_resource(resource_id)
    if resource is None:
        raise NotFound(f"no such resource {resource_id!r}", field="id")
    return resource


def _require_active_owner(tx: RegistryTx, owner: str) -> None:
    user = tx.get_user(owner)
    if user is None:
        raise ValidationError(f"owner {owner!r} is not a registered user; create the user first", field="owner")
    if user.status is not UserStatus.ACTIVE:
        raise ValidationError(f"owner {owner!r} is {user.status.value}; choose an active owner", field="owner")


def _permissions(tx: RegistryTx, permissions: tuple[Permission, ...]) -> tuple[Permission, ...]:
    if len(permissions) > MAX_PERMISSIONS:
        raise ValidationError(f"at most {MAX_PERMISSIONS} permissions per role", field="permissions")
    out: list[Permission] = []
    for i, perm in enumerate(permissions):
        where = f"permissions[{i}]"
        if not perm.actions:
            raise ValidationError("a permission names at least one action", field=f"{where}.actions")
        for action in perm.actions:
            _match(ACTION_NAME, action, f"{where}.actions", ACTION_RULE)
        if perm.resource != "*" and tx.get_resource(perm.resource) is None:
            raise ValidationError(f"resource {perm.resource!r} does not exist", field=f"{where}.resource")
        out.append(Permission(actions=tuple(sorted(set(perm.actions))), resource=perm.resource))
    return tuple(out)


def _match(pattern: re.Pattern[str], value: str, field: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise ValidationError(f"{field} must be {what}", field=field)


def _label(value: str, field: str) -> str:
    if value == "":
        return value
    _match(LABEL, value, field, "empty, or " + LABEL_RULE)
    return value


def _labels(values: tuple[str, ...], field: str) -> tuple[str, ...]:
    if len(values) > 32:
        raise ValidationError("at most 32 labels", field=field)
    for v in values:
        _match(LABEL, v, field, LABEL_RULE)
    return tuple(sorted(set(values)))


def _clearance(value: int) -> int:
    if not 0 <= value <= 10:
        raise ValidationError("clearance is a whole number from 0 to 10", field="clearance")
    return value


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value) or len(value) > 320:
        raise ValidationError(f"email must be {EMAIL_RULE}", field="email")
    return value.lower()
