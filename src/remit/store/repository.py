"""The registry's SQL adapter: implements ``remit.registry.ports`` on SQLAlchemy (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from remit.admin.access import AdminRole
from remit.admin.tokens import AdminToken
from remit.audit.events import ChangeEvent
from remit.audit.mask import Masker
from remit.audit.record import change_record
from remit.errors import Conflict, RemitError, StoreError, ValidationError
from remit.paging import Page, PageRequest
from remit.policy.model import GuardChange
from remit.registry.models import (
    Agent,
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
)
from remit.registry.ports import AgentFilter, EventFilter, ResourceFilter, RoleFilter, UserFilter
from remit.store import notify
from remit.store.db import READONLY
from remit.store.policies import PolicyQueries
from remit.store.tables import (
    AdminTokenRow,
    AgentRow,
    EventRow,
    ResourceRow,
    RoleAgentRow,
    RoleResourceRow,
    RoleRow,
    RoleUserRow,
    UserRow,
)

log = logging.getLogger(__name__)
R = TypeVar("R")

#: names per ``IN (...)`` list: well under SQLite's and PostgreSQL's bind-parameter limits
_IN_CHUNK = 500


class SqlStore:
    """``RegistryStore`` over one SQLAlchemy engine."""

    def __init__(self, engine: Engine, masker: Masker | None = None) -> None:
        self.engine = engine
        #: masks every change event before it is stored (``audit.mask_paths``: the audit log's own masker)
        self.masker = masker or Masker()
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=True)
        self._read_sessions = sessionmaker(
            engine.execution_options(**{READONLY: True}), expire_on_commit=False, autoflush=True
        )
        self._writes = 0
        self._lock = threading.Lock()
        self._postgres = engine.dialect.name == "postgresql"
        self._on_guard_change: list[Callable[[GuardChange], None]] = []

    @property
    def postgres(self) -> bool:
        """Whether the store is PostgreSQL (several servers may share it; changes are pushed with ``NOTIFY``)."""
        return self._postgres

    def local_writes(self) -> int:
        return self._writes

    def on_guard_change(self, callback: Callable[[GuardChange], None]) -> None:
        """Call ``callback`` with each status change this process commits (``announce``), after the commit and
        before ``transaction`` returns."""
        self._on_guard_change.append(callback)

    @contextmanager
    def transaction(self, *, readonly: bool = False, uncached: bool = False) -> Iterator[SqlTx]:
        """One transaction; ``readonly`` ones do not take SQLite's write lock (writing in them is a bug).
        ``uncached`` ones write only what no cache holds (the replay guard's ``jti`` rows): they leave
        ``local_writes`` alone, so that they do not make every cache of this process reload."""
        sessions = self._read_sessions if readonly else self._sessions
        changes: list[GuardChange] = []
        try:
            with sessions() as session, session.begin():
                tx = SqlTx(session, self.masker)
                yield tx
                for kind, id_ in dict.fromkeys(tx.announced):
                    change = notify.read_change(session, kind, id_)
                    if change is not None:
                        changes.append(change)
                        if self._postgres:
                            notify.send(session, kind, id_)
            if not readonly and not uncached:
                with self._lock:
                    self._writes += 1
        except RemitError:
            raise
        except IntegrityError as exc:
            log.info("integrity error: %s", exc.orig)
            raise Conflict("the change conflicts with data stored meanwhile; reload and try again") from exc
        except OperationalError as exc:
            log.error("database unavailable: %s", exc.orig)
            raise StoreError() from exc
        except PoolTimeout as exc:  # every pooled connection busy for store.pool_timeout_seconds
            log.error("database unavailable: no free connection in the pool")
            raise StoreError() from exc
        except SQLAlchemyError as exc:
            log.exception("database error")
            raise StoreError() from exc
        for change in changes:
            for callback in self._on_guard_change:
                try:
                    callback(change)
                except Exception:  # committed: the next compile has the change, only later
                    log.exception("applying a status change to the policy guard failed")


class SqlTx(PolicyQueries):
    """One transaction. Every method flushes, so constraint violations surface inside the ``with`` block."""

    def __init__(self, session: Session, masker: Masker | None = None) -> None:
        self.s = session
        self.masker = masker or Masker()
        #: (kind, id) of the agents and users whose status changed, for ``SqlStore`` to tell the guard after the commit
        self.announced: list[tuple[str, str]] = []

    # -- agents -------------------------------------------------------------------------------------------

    def get_agent(self, name: str) -> Agent | None:
        row = self.s.get(AgentRow, name)
        return None if row is None else self._agent(row)

    def get_agents(self, names: Sequence[str]) -> dict[str, Agent]:
        found: dict[str, Agent] = {}
        wanted = sorted(set(names))
        for start in range(0, len(wanted), _IN_CHUNK):  # bound the bind parameters of one statement
            rows = self.s.scalars(select(AgentRow).where(AgentRow.name.in_(wanted[start : start + _IN_CHUNK])))
            found.update((row.name, self._agent(row)) for row in rows)
        return found

    def list_agents(self, where: AgentFilter, page: PageRequest) -> Page[Agent]:
        q = select(AgentRow)
        if where.owner is not None:
            q = q.where(AgentRow.owner == where.owner)
        if where.status is not None:
            q = q.where(AgentRow.status == where.status.value)
        if where.team is not None:
            q = q.where(AgentRow.team == where.team)
        if where.environment is not None:
            q = q.where(AgentRow.environment == where.environment)
        if where.risk_tier is not None:
            q = q.where(AgentRow.risk_tier == where.risk_tier.value)
        if where.role is not None:
            q = q.where(AgentRow.name.in_(select(RoleAgentRow.agent).where(RoleAgentRow.role == where.role)))
        rows = self._page(q, AgentRow.name, page)
        roles = self._roles_of_agents([r.name for r in rows])
        items = tuple(self._agent(r, roles.get(r.name, ())) for r in rows[: page.limit])
        return Page(items=items, next_after=rows[page.limit - 1].name if len(rows) > page.limit else None)

    def insert_agent(self, agent: Agent) -> None:
        self.s.add(AgentRow(**_agent_cols(agent)))
        self.s.flush()

    def update_agent(self, agent: Agent) -> None:
        row = self.s.get(AgentRow, agent.name)
        assert row is not None
        for key, value in _agent_cols(agent).items():
            setattr(row, key, value)
        self.s.flush()

    def _agent(self, row: AgentRow, roles: tuple[str, ...] | None = None) -> Agent:
        if roles is None:
            roles = self._roles_of_agents([row.name]).get(row.name, ())
        return Agent(
            name=row.name,
            spiffe_id=row.spiffe_id,
            owner=row.owner,
            purpose=row.purpose,
            status=AgentStatus(row.status),
            status_reason=row.status_reason,
            team=row.team,
            environment=row.environment,
            risk_tier=RiskTier(row.risk_tier),
            clearance=row.clearance,
            created_at=row.created_at,
            updated_at=row.updated_at,
            review_due_at=row.review_due_at,
            last_seen_at=row.last_seen_at,
            attributes=_attrs_out(row.attributes),
            roles=roles,
        )

    def _roles_of_agents(self, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
        if not names:
            return {}
        out: dict[str, list[str]] = {}
        q = select(RoleAgentRow.agent, RoleAgentRow.role).where(RoleAgentRow.agent.in_(names))
        for agent, role in self.s.execute(q.order_by(RoleAgentRow.role)):
            out.setdefault(agent, []).append(role)
        return {k: tuple(v) for k, v in out.items()}

    # -- users --------------------------------------------------------------------------------------------

    def get_user(self, user_id: str) -> User | None:
        row = self.s.get(UserRow, user_id)
        return None if row is None else _user(row)

    def get_user_by_email(self, email: str) -> User | None:
        row = self.s.scalars(select(UserRow).where(UserRow.email == email)).first()
        return None if row is None else _user(row)

    def list_users(self, where: UserFilter, page: PageRequest) -> Page[User]:
        q = select(UserRow)
        if where.status is not None:
            q = q.where(UserRow.status == where.status.value)
        if where.only_id is not None:
            q = q.where(UserRow.id == where.only_id)
        rows = self._page(q, UserRow.id, page)
        return _paged([_user(r) for r in rows], page, lambda u: u.id)

    def insert_user(self, user: User) -> None:
        self.s.add(UserRow(**_user_cols(user)))
        self.s.flush()

    def update_user(self, user: User) -> None:
        row = self.s.get(UserRow, user.id)
        assert row is not None
        for key, value in _user_cols(user).items():
            setattr(row, key, value)
        self.s.flush()

    # -- roles --------------------------------------------------------------------------------------------

    def get_role(self, name: str) -> Role | None:
        row = self.s.get(RoleRow, name)
        return None if row is None else self._role(row)

    def list_roles(self, where: RoleFilter, page: PageRequest) -> Page[Role]:
        q = select(RoleRow)
        if where.agent is not None:
            q = q.where(RoleRow.name.in_(select(RoleAgentRow.role).where(RoleAgentRow.agent == where.agent)))
        if where.user is not None:
            q = q.where(RoleRow.name.in_(select(RoleUserRow.role).where(RoleUserRow.user == where.user)))
        rows = self._page(q, RoleRow.name, page)
        return _paged([self._role(r) for r in rows], page, lambda r: r.name)

    def insert_role(self, role: Role) -> None:
        self.s.add(RoleRow(**_role_cols(role)))
        self.s.flush()
        self._index_role_resources(role)

    def update_role(self, role: Role) -> None:
        row = self.s.get(RoleRow, role.name)
        assert row is not None
        for key, value in _role_cols(role).items():
            setattr(row, key, value)
        self.s.flush()
        self._index_role_resources(role)

    def delete_role(self, name: str) -> None:
        for table in (RoleAgentRow, RoleUserRow, RoleResourceRow):
            self.s.execute(delete(table).where(table.role == name))
        self.s.execute(delete(RoleRow).where(RoleRow.name == name))
        self.s.flush()

    def set_agent_member(self, role: str, agent: str, member: bool) -> bool:
        return self._set_member(RoleAgentRow(role=role, agent=agent), member)

    def set_user_member(self, role: str, user_id: str, member: bool) -> bool:
        return self._set_member(RoleUserRow(role=role, user=user_id), member)

    def _set_member(self, row: RoleAgentRow | RoleUserRow, member: bool) -> bool:
        key = (row.role, row.agent) if isinstance(row, RoleAgentRow) else (row.role, row.user)
        found = self.s.get(type(row), key)
        if member and found is None:
            self.s.add(row)
        elif not member and found is not None:
            self.s.delete(found)
        else:
            return False
        self.s.flush()
        return True

    def _index_role_resources(self, role: Role) -> None:
        self.s.execute(delete(RoleResourceRow).where(RoleResourceRow.role == role.name))
        for resource in sorted({p.resource for p in role.permissions if p.resource != "*"}):
            self.s.add(RoleResourceRow(role=role.name, resource=resource))
        self.s.flush()

    def _role(self, row: RoleRow) -> Role:
        agents = self.s.scalars(
            select(RoleAgentRow.agent).where(RoleAgentRow.role == row.name).order_by(RoleAgentRow.agent)
        ).all()
        users = self.s.scalars(
            select(RoleUserRow.user).where(RoleUserRow.role == row.name).order_by(RoleUserRow.user)
        ).all()
        return Role(
            name=row.name,
            description=row.description,
            permissions=_permissions_out(row.permissions),
            created_at=row.created_at,
            updated_at=row.updated_at,
            agents=tuple(agents),
            users=tuple(users),
        )

    # -- resources ----------------------------------------------------------------------------------------

    def get_resource(self, resource_id: str) -> Resource | None:
        row = self.s.get(ResourceRow, resource_id)
        return None if row is None else _resource(row)

    def list_resources(self, where: ResourceFilter, page: PageRequest) -> Page[Resource]:
        q = select(ResourceRow)
        if where.kind is not None:
            q = q.where(ResourceRow.kind == where.kind.value)
        if where.parent is not None:
            q = q.where(ResourceRow.parent == where.parent)
        rows = self._page(q, ResourceRow.id, page)
        return _paged([_resource(r) for r in rows], page, lambda r: r.id)

    def insert_resource(self, resource: Resource) -> None:
        self.s.add(ResourceRow(**_resource_cols(resource)))
        self.s.flush()

    def update_resource(self, resource: Resource) -> None:
        row = self.s.get(ResourceRow, resource.id)
        assert row is not None
        for key, value in _resource_cols(resource).items():
            setattr(row, key, value)
        self.s.flush()

    def delete_resource(self, resource_id: str) -> None:
        self.s.execute(delete(ResourceRow).where(ResourceRow.id == resource_id))
        self.s.flush()

    def count_children(self, resource_id: str) -> int:
        return int(self.s.scalar(select(func.count()).where(ResourceRow.parent == resource_id)) or 0)

    def roles_referencing(self, resource_id: str) -> list[str]:
        q = select(RoleResourceRow.role).where(RoleResourceRow.resource == resource_id).order_by(RoleResourceRow.role)
        return list(self.s.scalars(q).all())

    # -- events -------------------------------------------------------------------------------------------

    def add_event(self, event: ChangeEvent) -> None:
        """Record a change: in the audit chain and, in the same transaction, in the change feed, both masked (the
        feed stores what the chain does)."""
        from remit.store.audit import append_in  # the chain's code: a read of the registry does without it

        self.bump()
        record = change_record(event, self.masker)
        append_in(self.s, [record])
        self.s.add(
            EventRow(
                id=event.id,
                schema=event.schema,
                at=event.at,
                actor=event.actor,
                action=event.action,
                target_type=event.target_type,
                target_id=event.target_id,
                reason=record.get("reason", ""),
                before=record["before"],
                after=record["after"],
                extra=record.get("extra", {}),
                masked=record.get("masked", []),
            )
        )
        self.s.flush()

    def announce(self, kind: str, id_: str) -> None:
        if kind not in notify.KINDS:
            raise ValueError(f"unknown guard change kind {kind!r}")
        self.announced.append((kind, id_))

    def list_events(self, where: EventFilter, page: PageRequest) -> Page[ChangeEvent]:
        """Newest first."""
        q = select(EventRow)
        if where.target_type is not None:
            q = q.where(EventRow.target_type == where.target_type)
        if where.target_id is not None:
            q = q.where(EventRow.target_id == where.target_id)
        if where.actor is not None:
            q = q.where(EventRow.actor == where.actor)
        if where.action is not None:
            q = q.where(EventRow.action == where.action)
        if where.since is not None:
            q = q.where(EventRow.at >= where.since)
        if where.until is not None:
            q = q.where(EventRow.at < where.until)
        if page.after is not None:
            if not (page.after.isascii() and page.after.isdigit()) or len(page.after) > 18:
                raise ValidationError("cursor is not a value returned by a previous page", field="cursor")
            q = q.where(EventRow.seq < int(page.after))
        rows = list(self.s.scalars(q.order_by(EventRow.seq.desc()).limit(page.limit + 1)).all())
        items = tuple(_event(r) for r in rows[: page.limit])
        nxt = str(rows[page.limit - 1].seq) if len(rows) > page.limit else None
        return Page(items=items, next_after=nxt)

    # -- admin tokens -------------------------------------------------------------------------------------

    def insert_admin_token(self, token: AdminToken) -> None:
        self.s.add(AdminTokenRow(**_token_cols(token)))
        self.s.flush()

    def get_admin_token(self, token_id: str) -> AdminToken | None:
        row = self.s.get(AdminTokenRow, token_id)
        return None if row is None else _token(row)

    def find_admin_token(self, digest: str) -> AdminToken | None:
        row = self.s.scalars(select(AdminTokenRow).where(AdminTokenRow.digest == digest)).first()
        return None if row is None else _token(row)

    def list_admin_tokens(self, page: PageRequest) -> Page[AdminToken]:
        rows = self._page(select(AdminTokenRow), AdminTokenRow.id, page)
        return _paged([_token(r) for r in rows], page, lambda t: t.id)

    def update_admin_token(self, token: AdminToken) -> None:
        row = self.s.get(AdminTokenRow, token.id)
        assert row is not None
        for key, value in _token_cols(token).items():
            setattr(row, key, value)
        self.s.flush()

    # -- whole registry, for compiling the policy state --------------------------------------------------

    def _all_agents(self) -> list[Agent]:
        roles: dict[str, list[str]] = {}
        for agent, role in self.s.execute(select(RoleAgentRow.agent, RoleAgentRow.role).order_by(RoleAgentRow.role)):
            roles.setdefault(agent, []).append(role)
        rows = self.s.scalars(select(AgentRow).order_by(AgentRow.name)).all()
        return [self._agent(r, tuple(roles.get(r.name, ()))) for r in rows]

    def _all_users(self) -> list[User]:
        return [_user(r) for r in self.s.scalars(select(UserRow).order_by(UserRow.id)).all()]

    def _all_roles(self) -> list[Role]:
        agents: dict[str, list[str]] = {}
        users: dict[str, list[str]] = {}
        for role, agent in self.s.execute(select(RoleAgentRow.role, RoleAgentRow.agent).order_by(RoleAgentRow.agent)):
            agents.setdefault(role, []).append(agent)
        for role, user in self.s.execute(select(RoleUserRow.role, RoleUserRow.user).order_by(RoleUserRow.user)):
            users.setdefault(role, []).append(user)
        out: list[Role] = []
        for row in self.s.scalars(select(RoleRow).order_by(RoleRow.name)).all():
            out.append(
                Role(
                    name=row.name,
                    description=row.description,
                    permissions=_permissions_out(row.permissions),
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    agents=tuple(agents.get(row.name, ())),
                    users=tuple(users.get(row.name, ())),
                )
            )
        return out

    def _all_resources(self) -> list[Resource]:
        return [_resource(r) for r in self.s.scalars(select(ResourceRow).order_by(ResourceRow.id)).all()]

    # -- shared -------------------------------------------------------------------------------------------

    def _page(self, q: Select[R], key: Any, page: PageRequest) -> list[R]:
        """Keyset pagination: one more row than asked, to know whether another page follows."""
        if page.after is not None:
            q = q.where(key > page.after)
        return list(self.s.scalars(q.order_by(key).limit(page.limit + 1)).all())


def _paged(items: list[R], page: PageRequest, key: Any) -> Page[R]:
    nxt = key(items[page.limit - 1]) if len(items) > page.limit else None
    return Page(items=tuple(items[: page.limit]), next_after=nxt)


def _permissions_out(raw: dict[str, Any]) -> tuple[Permission, ...]:
    return tuple(Permission(actions=tuple(p["actions"]), resource=p["resource"]) for p in raw.get("permissions", []))


def _attrs_in(attributes: Attributes) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()}


def _attrs_out(raw: dict[str, Any]) -> Attributes:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def _agent_cols(a: Agent) -> dict[str, Any]:
    return {
        "name": a.name,
        "spiffe_id": a.spiffe_id,
        "owner": a.owner,
        "purpose": a.purpose,
        "status": a.status.value,
        "status_reason": a.status_reason,
        "team": a.team,
        "environment": a.environment,
        "risk_tier": a.risk_tier.value,
        "clearance": a.clearance,
        "attributes": _attrs_in(a.attributes),
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "review_due_at": a.review_due_at,
        "last_seen_at": a.last_seen_at,
    }


def _user_cols(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "status": u.status.value,
        "attributes": _attrs_in(u.attributes),
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    }


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        status=UserStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        attributes=_attrs_out(row.attributes),
    )


def _role_cols(r: Role) -> dict[str, Any]:
    perms = [{"actions": list(p.actions), "resource": p.resource} for p in r.permissions]
    return {
        "name": r.name,
        "description": r.description,
        "permissions": {"permissions": perms},
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _resource_cols(r: Resource) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind.value,
        "display_name": r.display_name,
        "parent": r.parent,
        "sensitivity": r.sensitivity.value,
        "data_classes": {"values": list(r.data_classes)},
        "attributes": _attrs_in(r.attributes),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _resource(row: ResourceRow) -> Resource:
    return Resource(
        id=row.id,
        kind=ResourceKind(row.kind),
        display_name=row.display_name,
        parent=row.parent,
        sensitivity=Sensitivity(row.sensitivity),
        data_classes=tuple(row.data_classes.get("values", [])),
        created_at=row.created_at,
        updated_at=row.updated_at,
        attributes=_attrs_out(row.attributes),
    )


def _event(row: EventRow) -> ChangeEvent:
    return ChangeEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        before=row.before,
        after=row.after,
        reason=row.reason,
        schema=row.schema,
        extra=row.extra,
        masked=tuple(row.masked or ()),
    )


def _token_cols(t: AdminToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "role": t.role.value,
        "user_id": t.user_id,
        "digest": t.digest,
        "created_at": t.created_at,
        "created_by": t.created_by,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    }


def _token(row: AdminTokenRow) -> AdminToken:
    return AdminToken(
        id=row.id,
        name=row.name,
        role=AdminRole(row.role),
        user_id=row.user_id,
        digest=row.digest,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
