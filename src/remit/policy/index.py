"""Policy slicing: give Cedar only the policies a request can match.

Cedar evaluates every policy it is handed (10k policies cost ~11 ms a decision), so each policy is filed under
the most selective part of its scope: a resource (or an ancestor such as its MCP server), else a principal
(or a role), else an action, else a resource type, else "always". A request gathers the buckets of its own
entities and their ancestors, keeps the policies whose whole scope matches, and gets a ``PolicySet`` built
once per distinct slice (an LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from threading import Lock

from remit.policy import cedar
from remit.policy.cedar import ParsedPolicy, PolicySetHandle, Scope
from remit.policy.model import EntityRef

ACTION_TYPE = "Action"


class PolicyIndex:
    def __init__(self, policies: Sequence[ParsedPolicy], *, cache_size: int = 4096) -> None:
        self.policies = tuple(policies)
        self._by_resource: dict[EntityRef, list[int]] = {}
        self._by_principal: dict[EntityRef, list[int]] = {}
        self._by_action: dict[str, list[int]] = {}
        self._by_resource_type: dict[str, list[int]] = {}
        self._always: list[int] = []
        for i, p in enumerate(self.policies):
            self._file(i, p)
        self._cache: OrderedDict[tuple[int, ...], PolicySetHandle] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self.policies)

    def _file(self, i: int, p: ParsedPolicy) -> None:
        if p.resource.refs:
            for ref in p.resource.refs:
                self._by_resource.setdefault(ref, []).append(i)
        elif p.principal.refs:
            for ref in p.principal.refs:
                self._by_principal.setdefault(ref, []).append(i)
        elif p.action.refs:
            for ref in p.action.refs:
                self._by_action.setdefault(ref.id, []).append(i)
        elif p.resource.op == "is" and p.resource.type is not None:
            self._by_resource_type.setdefault(p.resource.type, []).append(i)
        else:
            self._always.append(i)

    def candidates(
        self,
        principal: EntityRef,
        principal_up: frozenset[EntityRef],
        action: str,
        action_up: frozenset[EntityRef],
        resource: EntityRef,
        resource_up: frozenset[EntityRef],
    ) -> tuple[int, ...]:
        """Indexes of the policies whose scope matches. ``*_up`` hold each entity's ancestors (not itself)."""
        found: set[int] = set(self._always)
        by_resource, by_principal = self._by_resource, self._by_principal
        for ref in (resource, *resource_up):
            hit = by_resource.get(ref)
            if hit:
                found.update(hit)
        for ref in (principal, *principal_up):
            hit = by_principal.get(ref)
            if hit:
                found.update(hit)
        hit = self._by_action.get(action)
        if hit:
            found.update(hit)
        for ref in action_up:
            hit = self._by_action.get(ref.id)
            if hit:
                found.update(hit)
        hit = self._by_resource_type.get(resource.type)
        if hit:
            found.update(hit)
        action_ref = EntityRef(ACTION_TYPE, action)
        return tuple(
            sorted(
                i
                for i in found
                if _matches(self.policies[i].principal, principal, principal_up)
                and _matches(self.policies[i].action, action_ref, action_up)
                and _matches(self.policies[i].resource, resource, resource_up)
            )
        )

    def policy_set(self, slice_: tuple[int, ...]) -> PolicySetHandle:
        """The parsed set for these policies, built once and cached."""
        cached = self._cache.get(slice_)
        if cached is not None:
            return cached
        handle = cedar.policy_set(self.policies[i] for i in slice_)
        with self._lock:
            self._cache[slice_] = handle
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return handle


def _matches(scope: Scope, ref: EntityRef, up: frozenset[EntityRef]) -> bool:
    op = scope.op
    if op == "all":
        return True
    if op == "eq":
        return scope.refs[0] == ref
    if op == "in":
        return any(r == ref or r in up for r in scope.refs)
    # is T [in X]
    if ref.type != scope.type:
        return False
    return not scope.refs or scope.refs[0] == ref or scope.refs[0] in up
