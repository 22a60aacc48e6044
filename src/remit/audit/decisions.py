"""Audit records of access decisions, built from the engine's request and answer. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remit.audit.log import AuditLog
from remit.audit.receipt import Receipt
from remit.audit.record import AUDIT_SCHEMA, Json, Kind, summarise, timestamp
from remit.clock import Clock
from remit.policy.model import AuthzRequest, Decision, EntityRef
from remit.policy.state import CompiledState

#: context members that name the humans and agents a request is made on behalf of, outermost first
DELEGATION_KEYS = ("on_behalf_of", "delegation_chain", "act")


def owner_of(state: CompiledState | None, principal: EntityRef) -> str | None:
    if state is None:
        return None
    stored = state.stored.get(principal)
    if not stored:
        return None
    owner = stored.get("attrs", {}).get("owner")
    if isinstance(owner, dict):
        entity = owner.get("__entity", owner)
        ident = entity.get("id") if isinstance(entity, dict) else None
        return str(ident) if ident is not None else None
    return None


def delegation(context: dict[str, Any]) -> list[str] | None:
    for key in DELEGATION_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list) and value:
            return [str(v) for v in value][:20]
    return None


#: a decision as it travels to the writer before it is built into its record (see ``decision_parts``)
Parts = tuple[Any, ...]


def decision_record(
    request: AuthzRequest,
    decision: Decision,
    *,
    at: datetime,
    source: str,
    actor: str | None,
    state: CompiledState | None,
    context_max_bytes: int = 8192,
    outcome: dict[str, Any] | None = None,
) -> Json:
    """One decision as an audit record (``remit.audit/v1``, kind ``decision``). ``request.context`` and the
    properties sent with the request are kept (masked later by the log) up to ``context_max_bytes`` each."""
    parts = decision_parts(request, decision, at=at, source=source, actor=actor, state=state, outcome=outcome)
    return record_from_parts(parts, context_max_bytes)


def decision_parts(
    request: AuthzRequest,
    decision: Decision,
    *,
    at: datetime,
    source: str,
    actor: str | None,
    state: CompiledState | None,
    outcome: dict[str, Any] | None = None,
) -> Parts:
    """What a decision's record is built from, in plain values: cheap to take on the hot path, and to send to
    the audit writer process, which builds the record (``record_from_parts``) and masks it there."""
    p, r = request.principal, request.resource
    deny_code = decision.deny_code
    stored = state.stored if state is not None else None
    return (
        decision.decision_id,
        at,
        request.action,
        source,
        actor,
        p.type,
        p.id,
        owner_of(state, p),
        r.type,
        r.id,
        request.context,
        request.principal_attrs,
        request.resource_attrs,
        request.action_attrs,
        decision.allowed,
        decision.effect.value,
        decision.reasons,
        decision.policy_version,
        decision.mode.value,
        decision.errors,
        None if deny_code is None else deny_code.value,
        decision.eval_us,
        outcome,
        stored is not None and p not in stored,
        stored is not None and r not in stored,
    )


def record_from_parts(parts: Parts, context_max_bytes: int) -> Json:
    """The record of ``decision_parts``, not yet masked."""
    (
        decision_id,
        at,
        action,
        source,
        actor,
        principal_type,
        principal_id,
        owner,
        resource_type,
        resource_id,
        context,
        principal_attrs,
        resource_attrs,
        action_attrs,
        allowed,
        effect,
        reasons,
        policy_version,
        mode,
        errors,
        deny_code,
        eval_us,
        outcome,
        principal_unregistered,
        resource_unregistered,
    ) = parts
    principal: Json = {"type": principal_type, "id": principal_id}
    resource: Json = {"type": resource_type, "id": resource_id}
    # evaluated as the request described it: neither the registry nor the extra entities know it
    if principal_unregistered:
        principal["registered"] = False
    if resource_unregistered:
        resource["registered"] = False
    if owner is not None:
        principal["owner"] = owner
    chain = delegation(context) if context else None
    if chain:
        principal["on_behalf_of"] = chain
    verdict: Json = {
        "allowed": allowed,
        "effect": effect,
        "policies": list(reasons),
        "policy_version": policy_version,
        "mode": mode,
    }
    if errors:
        verdict["errors"] = [e.split(": ", 1)[0] for e in errors]  # ids: messages may quote values
    if deny_code is not None:
        verdict["deny_code"] = deny_code
    body: Json = {
        "schema": AUDIT_SCHEMA,
        "id": decision_id,
        "at": timestamp(at),
        "kind": Kind.DECISION.value,
        "action": action,
        "source": source,
        "principal": principal,
        "resource": resource,
        "decision": verdict,
        "latency_us": round(eval_us, 1),
    }
    if actor is not None:
        body["actor"] = actor
    if context:
        body["context"] = summarise(context, context_max_bytes)
    properties = {
        k: summarise(v, context_max_bytes)
        for k, v in (("subject", principal_attrs), ("resource", resource_attrs), ("action", action_attrs))
        if v
    }
    if properties:
        body["properties"] = properties
    if outcome is not None:
        body["outcome"] = outcome
    return body


class DecisionRecorder:
    """Puts decisions in the audit log; the receipt says when each is durable (see ``remit.audit.log``)."""

    def __init__(self, log: AuditLog, clock: Clock, *, context_max_bytes: int = 8192) -> None:
        self.log = log
        self._clock = clock
        self._max = context_max_bytes

    def record(
        self,
        request: AuthzRequest,
        decision: Decision,
        *,
        source: str,
        actor: str | None,
        state: CompiledState | None,
        outcome: dict[str, Any] | None = None,
    ) -> Receipt:
        parts = decision_parts(
            request, decision, at=self._clock.now(), source=source, actor=actor, state=state, outcome=outcome
        )
        if self.log.deferring:  # the writer process builds and masks the record, off the serving thread
            return self.log.record_deferred(parts)
        return self.log.record(record_from_parts(parts, self._max))
