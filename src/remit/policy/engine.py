"""The policy decision point: one engine behind the AuthZEN API, the in-process ``Authorizer``, and (later) the
gateway and token service.

``evaluate`` = guard, slice the policies and entities the request can touch, one Cedar call, then fail closed:
any evaluation error in an applicable policy denies unless the active version says ``on_error = skip``. In
log-only mode the caller is told allow for policy denials; guard denials and engine failures still deny.

The guard reads the compiled state's view of agents and users with, on top, the status changes committed since
that state was compiled (``apply``): a suspension is in force on the very next decision, not at the next compile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

from remit.ids import new_id
from remit.policy import cedar, guard
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, GuardChange, Mode, OnError, build
from remit.policy.state import CompiledState, GuardInfo, refs_in
from remit.policy.values import is_cedar_record, to_cedar

log = logging.getLogger(__name__)

DecisionSink = Callable[[AuthzRequest, Decision], None]


def _discard(_request: AuthzRequest, _decision: Decision) -> None:
    return None


_NOBODY = GuardInfo(agents={}, users={})

# An enum's members are slow to reach through their class (``EnumType.__getattr__``, ~1k instructions each).
_ALLOW, _DENY = Effect.ALLOW, Effect.DENY
_LOG_ONLY = Mode.LOG_ONLY
_ON_ERROR_DENY = OnError.DENY
_NO_PERMIT, _FORBIDDEN, _EVALUATION_ERROR = DenyCode.NO_PERMIT, DenyCode.FORBIDDEN, DenyCode.EVALUATION_ERROR


class PolicyEngine:
    """Evaluates against the current ``CompiledState``; ``swap`` replaces it atomically, ``apply`` puts a status
    change in front of it at once.

    A decision reads one tuple, (state, guard): the guard is the state's own with the pending changes applied, built
    copy-on-write by a writer and swapped in whole, so the decision path takes no lock and reads no database.
    """

    def __init__(self, state: CompiledState | None = None, *, sink: DecisionSink = _discard) -> None:
        self._current: tuple[CompiledState | None, GuardInfo] = (state, state.guard if state else _NOBODY)
        self._sink = sink
        self._lock = threading.Lock()  #: writers only
        #: status changes newer than the state, by (kind, id): applied over each state swapped in until one has them
        self._pending: dict[tuple[str, str], GuardChange] = {}

    @property
    def state(self) -> CompiledState | None:
        return self._current[0]

    @property
    def guard(self) -> GuardInfo:
        """What the guard decides on: the state's agents and users with the pending status changes applied."""
        return self._current[1]

    def swap(self, state: CompiledState) -> None:
        with self._lock:
            self._pending = {k: c for k, c in self._pending.items() if c.revision > state.revision}
            guard_info = state.guard
            for change in self._pending.values():
                guard_info = guard_info.changed(change)
            self._current = (state, guard_info)

    def apply(self, change: GuardChange) -> bool:
        """Put a committed status change in force for the next decision; whether it was news (not already compiled
        in, nor older than a change already applied to the same agent or user)."""
        key = (change.kind, change.id)
        with self._lock:
            state, guard_info = self._current
            known = self._pending.get(key)
            if (state is not None and change.revision <= state.revision) or (
                known is not None and change.revision < known.revision
            ):
                return False
            self._pending[key] = change
            self._current = (state, guard_info.changed(change))
            return True

    def evaluate(self, request: AuthzRequest) -> Decision:
        started = perf_counter()
        state, guard_info = self._current
        try:
            decision = self._decide(request, state, guard_info, started)
        except Exception:  # fail closed: whatever went wrong, the answer is deny
            log.exception("policy engine failed")
            decision = _deny(state, started, DenyCode.ENGINE_ERROR, "the policy engine failed; denied")
        self._sink(request, decision)
        return decision

    def _decide(
        self, request: AuthzRequest, state: CompiledState | None, guard_info: GuardInfo, started: float
    ) -> Decision:
        if state is None or not state.index.policies:
            return _deny(state, started, DenyCode.NO_POLICIES, "no policies are loaded; everything is denied")
        blocked = guard.check(request.principal, guard_info)
        if blocked is not None:
            return _deny(state, started, blocked[0], blocked[1])
        principal, resource = request.principal, request.resource
        plain = request.principal_attrs is None and request.resource_attrs is None and request.action_attrs is None
        key = (principal, request.action, resource)
        route = state._routes.get(key) if plain else None  # state.cached_route(key), inline
        try:
            if route is None:
                slice_ = state.index.candidates(
                    principal,
                    state.up(principal),
                    request.action,
                    state.up(EntityRef("Action", request.action)),
                    resource,
                    state.up(resource),
                )
                if not slice_:
                    return self._policy_deny(state, started, _NO_PERMIT, (), (), request)
                policies = state.index.policy_set(slice_)
                entity_set = self._entities(state, request, plain)
                if plain:
                    state.remember_route(key, (policies, entity_set))
            else:
                policies, entity_set = route
            context = _cedar_context(request.context) if request.context else {}
            raw = cedar.evaluate(principal, request.action, resource, context, policies, entity_set)
        except ValueError as exc:
            return _deny(state, started, DenyCode.INVALID_REQUEST, f"the request cannot be evaluated: {exc}")
        allowed, reasons, raw_errors = raw
        errors = tuple(f"{pid}: {msg}" for pid, msg in raw_errors) if raw_errors else ()
        if errors and state.on_error is _ON_ERROR_DENY:
            return self._policy_deny(state, started, _EVALUATION_ERROR, reasons, errors, request)
        if allowed:
            return build(
                Decision,
                {
                    "decision_id": new_id("dec"),
                    "allowed": True,
                    "effect": _ALLOW,
                    "policy_version": state.version,
                    "mode": state.mode,
                    "reasons": reasons,
                    "errors": errors,
                    "deny_code": None,
                    "message": "",
                    "eval_us": (perf_counter() - started) * 1e6,
                    "request_access_possible": False,
                },
            )
        return self._policy_deny(state, started, _FORBIDDEN if reasons else _NO_PERMIT, reasons, errors, request)

    def _policy_deny(
        self,
        state: CompiledState,
        started: float,
        code: DenyCode,
        reasons: tuple[str, ...],
        errors: tuple[str, ...],
        request: AuthzRequest,
    ) -> Decision:
        unknown = unregistered(state, request)
        if code is _NO_PERMIT:
            message = "no policy permits this" + ("" if unknown else "; an access request could grant it")
        elif code is _FORBIDDEN:
            message = "a forbid policy applies: " + ", ".join(reasons)
        elif code is _EVALUATION_ERROR:
            message = "a policy failed to evaluate, so the request is denied (fail closed)"
        else:
            raise KeyError(code)
        if unknown:
            message += "; " + _not_registered(unknown, code is _EVALUATION_ERROR)
        mode = state.mode
        return build(
            Decision,
            {
                "decision_id": new_id("dec"),
                "allowed": mode is _LOG_ONLY,
                "effect": _DENY,
                "policy_version": state.version,
                "mode": mode,
                "reasons": reasons,
                "errors": errors,
                "deny_code": code,
                "message": message,
                "eval_us": (perf_counter() - started) * 1e6,
                "request_access_possible": code is _NO_PERMIT and not unknown,
            },
        )

    @staticmethod
    def _entities(state: CompiledState, request: AuthzRequest, plain: bool) -> Any:
        """The entities this request can reach: the principal, resource and action, their ancestors, and the
        entities their attributes name (with properties from the request merged over stored attributes)."""
        principal, resource = request.principal, request.resource
        action_ref = EntityRef("Action", request.action)
        overrides: dict[EntityRef, dict[str, Any]] = {}
        for ref, attrs in (
            (principal, request.principal_attrs),
            (resource, request.resource_attrs),
            (action_ref, request.action_attrs),
        ):
            if attrs is None:
                continue
            base = state.stored.get(ref)
            merged = dict(base.get("attrs", {})) if base else {}
            merged.update(to_cedar(attrs))
            parents = base.get("parents", []) if base else []
            overrides[ref] = {"uid": ref.as_json(), "attrs": merged, "parents": parents}
        wanted = {principal, resource, action_ref}
        for ref in (principal, resource, action_ref):
            wanted |= state.neighbourhood(ref)
        for body in overrides.values():
            for named in refs_in(body["attrs"]):
                wanted.add(named)
                wanted |= state.neighbourhood(named)
        items: list[dict[str, Any]] = []
        for ref in wanted:
            found = overrides.get(ref) or state.stored.get(ref)
            if found is not None:
                items.append(found)
            elif ref in (principal, resource):
                items.append({"uid": ref.as_json(), "attrs": {}, "parents": []})
        return cedar.entities(items) if plain else items


def unregistered(state: CompiledState | None, request: AuthzRequest) -> tuple[tuple[str, EntityRef], ...]:
    """``(side, uid)`` for each side of the request (``principal``, ``resource``) that the registry and the extra
    entities do not know: Cedar evaluates it as the request describes it, without stored attributes, and an access
    request cannot help."""
    if state is None:
        return ()
    stored = state.stored
    return tuple(
        (side, ref)
        for side, ref in (("principal", request.principal), ("resource", request.resource))
        if ref not in stored
    )


def _not_registered(unknown: tuple[tuple[str, EntityRef], ...], errored: bool) -> str:
    """``resource Tool::"x" is not registered: check ...``, said next to the deny reason so the caller can fix it."""
    one = len(unknown) == 1
    named = " and ".join(f"{side} {ref}" for side, ref in unknown)
    has = f", so {'it has' if one else 'they have'} none of the attributes policies read" if errored else ""
    register = "it" if one else "them"
    return f"{named} {'is' if one else 'are'} not registered{has}: check the type and id, or register {register}"


def _cedar_context(context: dict[str, Any]) -> Any:
    """``to_cedar(context)``, without rebuilding a context that already is Cedar JSON (``is_cedar_record``), which is
    what PEPs send. The engine only reads it."""
    return context if is_cedar_record(context) else to_cedar(context)


def _deny(state: CompiledState | None, started: float, code: DenyCode, message: str) -> Decision:
    return Decision(
        decision_id=new_id("dec"),
        allowed=False,
        effect=Effect.DENY,
        policy_version=state.version if state else 0,
        mode=state.mode if state else Mode.ENFORCE,
        deny_code=code,
        message=message,
        eval_us=(perf_counter() - started) * 1e6,
    )
