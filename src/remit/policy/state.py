"""The compiled policy state one engine evaluates against: built once per change, then read-only.

Holds the parsed policies and their index, the registry and extra entities by uid with their ancestors and
neighbourhoods (what a request's slice of entities must contain), and the guard's view of agents and users.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from remit.policy import cedar
from remit.policy.cedar import EntitiesHandle, ParsedPolicy, PolicySetHandle
from remit.policy.compile import BUILTIN_ACTIONS, RegistrySnapshot, entities, role_policies_text
from remit.policy.index import PolicyIndex
from remit.policy.model import Entity, EntityRef, GuardChange, Mode, OnError

RouteKey = tuple[EntityRef, str, EntityRef]  #: (principal, action, resource)
Route = tuple[PolicySetHandle, EntitiesHandle]

#: how far entity references in attributes are followed to fill a request's slice (principal.owner.manager: 2)
REF_DEPTH = 2


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """Everything a state is compiled from; read from the store by the policy service."""

    version: int  #: the active policy version (0: none)
    revision: int  #: the change counter it was read at
    mode: Mode
    on_error: OnError
    policies: str  #: the active version's policy text
    snapshot: RegistrySnapshot
    extra_entities: Sequence[dict[str, Any]] = ()
    schema_fragment: dict[str, Any] | None = None  #: the active version's schema fragment (the actions it declares)


@dataclass(frozen=True, slots=True)
class GuardInfo:
    agents: dict[str, tuple[str, str]]  #: name -> (status, owner)
    users: dict[str, str]  #: id -> status

    def changed(self, change: GuardChange) -> GuardInfo:
        """A copy with ``change`` applied; the dictionary it does not touch is shared (both are never mutated).

        An agent this state does not know stays unknown unless the change denies it: its entity is not compiled yet,
        and letting it past the guard before it is would evaluate policies against an agent without attributes."""
        if change.kind == "agent":
            if change.id not in self.agents and change.status == "active":
                return self
            return GuardInfo(agents={**self.agents, change.id: (change.status, change.owner)}, users=self.users)
        if change.kind == "user":
            return GuardInfo(agents=self.agents, users={**self.users, change.id: change.status})
        raise ValueError(f"unknown guard change kind {change.kind!r}")


@dataclass
class CompiledState:
    version: int
    revision: int
    mode: Mode
    on_error: OnError
    index: PolicyIndex
    user_policy_count: int
    stored: dict[EntityRef, dict[str, Any]]
    ancestors: dict[EntityRef, frozenset[EntityRef]]
    guard: GuardInfo
    _neighbours: dict[EntityRef, frozenset[EntityRef]] = field(default_factory=dict)
    _routes: OrderedDict[RouteKey, Route] = field(default_factory=OrderedDict)
    _lock: Lock = field(default_factory=Lock)
    slice_cache_size: int = 8192
    #: every action name a policy, a role, the schema or an entity knows (action groups left out), sorted
    actions: tuple[str, ...] = ()
    _by_type: dict[str, tuple[str, ...]] | None = None

    def up(self, ref: EntityRef) -> frozenset[EntityRef]:
        return self.ancestors.get(ref, frozenset())

    def neighbourhood(self, ref: EntityRef) -> frozenset[EntityRef]:
        """Ancestors, plus entities named in attributes (to ``REF_DEPTH``) and their ancestors."""
        cached = self._neighbours.get(ref)
        if cached is not None:
            return cached
        out: set[EntityRef] = set(self.up(ref))
        frontier = [ref]
        for _ in range(REF_DEPTH):
            nxt: list[EntityRef] = []
            for item in frontier:
                body = self.stored.get(item)
                if body is None:
                    continue
                for named in refs_in(body.get("attrs", {})):
                    if named not in out and named != ref:
                        out.add(named)
                        out.update(self.up(named))
                        nxt.append(named)
            frontier = nxt
        result = frozenset(out)
        self._neighbours[ref] = result
        return result

    def ids_of(self, type_: str) -> tuple[str, ...]:
        """The ids of the stored entities of one Cedar type, sorted: the candidates of an AuthZEN search."""
        by_type = self._by_type
        if by_type is None:  # built on first use; two threads racing build the same value
            grouped: dict[str, list[str]] = {}
            for ref in self.stored:
                grouped.setdefault(ref.type, []).append(ref.id)
            by_type = {t: tuple(sorted(ids)) for t, ids in grouped.items()}
            self._by_type = by_type
        return by_type.get(type_, ())

    def cached_route(self, key: RouteKey) -> Route | None:
        """The policy and entity slices of a request without properties, once computed."""
        return self._routes.get(key)

    def remember_route(self, key: RouteKey, route: Route) -> None:
        with self._lock:
            self._routes[key] = route
            if len(self._routes) > self.slice_cache_size:
                self._routes.popitem(last=False)


def compile_state(inputs: PolicyInputs) -> CompiledState:
    """Parse and index everything; ``PolicySyntaxError`` if stored text no longer parses (never expected)."""
    user = cedar.parse(inputs.policies) if inputs.policies.strip() else []
    rbac_text = role_policies_text(inputs.snapshot.roles, inputs.snapshot.resources)
    rbac = cedar.parse(rbac_text) if rbac_text else []
    all_entities = [e.as_json() for e in entities(inputs.snapshot)]
    registry_uids = {_uid(e) for e in all_entities}
    for extra in inputs.extra_entities:
        if _uid(extra) not in registry_uids:  # the registry wins over an extra entity of the same uid
            all_entities.append(extra)
    stored = {_uid(e): e for e in all_entities}
    parents = {
        uid: tuple(EntityRef(p["type"], p["id"]) for p in body.get("parents", [])) for uid, body in stored.items()
    }
    snapshot = inputs.snapshot
    ancestors = _closure(parents)
    return CompiledState(
        version=inputs.version,
        revision=inputs.revision,
        mode=inputs.mode,
        on_error=inputs.on_error,
        index=PolicyIndex([*rbac, *user]),
        user_policy_count=len(user),
        stored=stored,
        ancestors=ancestors,
        guard=GuardInfo(
            agents={a.name: (a.status.value, a.owner) for a in snapshot.agents},
            users={u.id: u.status.value for u in snapshot.users},
        ),
        actions=_known_actions(inputs, [*rbac, *user], stored, ancestors),
    )


def _known_actions(
    inputs: PolicyInputs,
    policies: Sequence[ParsedPolicy],
    stored: dict[EntityRef, dict[str, Any]],
    ancestors: dict[EntityRef, frozenset[EntityRef]],
) -> tuple[str, ...]:
    """Built-in and role actions, actions named in policy scopes, the schema fragment's actions and stored
    ``Action`` entities; minus action groups (an action other actions are members of)."""
    names: dict[str, None] = dict.fromkeys(BUILTIN_ACTIONS)
    for role in inputs.snapshot.roles:
        for perm in role.permissions:
            names.update(dict.fromkeys(perm.actions))
    for policy in policies:
        names.update(dict.fromkeys(ref.id for ref in policy.action.refs if ref.type == "Action"))
    groups = {up.id for ref, ups in ancestors.items() if ref.type == "Action" for up in ups if up.type == "Action"}
    body = (inputs.schema_fragment or {}).get("")  # namespaced actions are not ``Action::"..."``
    if isinstance(body, dict) and isinstance(body.get("actions"), dict):
        for name, definition in body["actions"].items():
            names[str(name)] = None
            member_of = definition.get("memberOf") if isinstance(definition, dict) else None
            for parent in member_of if isinstance(member_of, list) else ():
                if isinstance(parent, dict) and "id" in parent and parent.get("type", "Action") == "Action":
                    groups.add(str(parent["id"]))
    names.update(dict.fromkeys(ref.id for ref in stored if ref.type == "Action"))
    return tuple(sorted(n for n in names if n not in groups))


def refs_in(value: Any) -> Iterable[EntityRef]:
    """Entity references (``{"__entity": {...}}``) anywhere in a Cedar JSON value."""
    if isinstance(value, dict):
        inner = value.get("__entity")
        if isinstance(inner, dict) and "type" in inner and "id" in inner:
            yield EntityRef(str(inner["type"]), str(inner["id"]))
            return
        for v in value.values():
            yield from refs_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs_in(v)


def parse_entity(raw: dict[str, Any]) -> Entity:
    uid = _uid(raw)
    parents = tuple(EntityRef(str(p["type"]), str(p["id"])) for p in raw.get("parents", []))
    return Entity(uid, dict(raw.get("attrs", {})), parents)


def _uid(raw: dict[str, Any]) -> EntityRef:
    uid = raw["uid"]
    if "__entity" in uid:
        uid = uid["__entity"]
    return EntityRef(str(uid["type"]), str(uid["id"]))


def _closure(parents: dict[EntityRef, tuple[EntityRef, ...]]) -> dict[EntityRef, frozenset[EntityRef]]:
    out: dict[EntityRef, frozenset[EntityRef]] = {}

    def visit(ref: EntityRef, trail: frozenset[EntityRef]) -> frozenset[EntityRef]:
        done = out.get(ref)
        if done is not None:
            return done
        acc: set[EntityRef] = set()
        for parent in parents.get(ref, ()):
            if parent in trail:  # a cycle: Cedar would refuse it at parse time; stop here
                continue
            acc.add(parent)
            acc.update(visit(parent, trail | {parent}))
        result = frozenset(acc)
        out[ref] = result
        return result

    for ref in parents:
        visit(ref, frozenset({ref}))
    return {k: v for k, v in out.items() if v}
