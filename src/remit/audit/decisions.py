"""Audit records of access decisions, built from the engine's request and answer. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remit.audit.log import AuditLog, Receipt
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
    principal: Json = {"type": request.principal.type, "id": request.principal.id}
    owner = owner_of(state, request.principal)
    if owner is not None:
        principal["owner"] = owner
    chain = delegation(request.context) if request.context else None
    if chain:
        principal["on_behalf_of"] = chain
    verdict: Json = {
        "allowed": decision.allowed,
        "effect": decision.effect.value,
        "policies": list(decision.reasons),
        "policy_version": decision.policy_version,
        "mode": decision.mode.value,
    }
    if decision.errors:
        verdict["errors"] = [e.split(": ", 1)[0] for e in decision.errors]  # ids: messages may quote values
    if decision.deny_code is not None:
        verdict["deny_code"] = decision.deny_code.value
    body: Json = {
        "schema": AUDIT_SCHEMA,
        "id": decision.decision_id,
        "at": timestamp(at),
        "kind": Kind.DECISION.value,
        "action": request.action,
        "source": source,
        "principal": principal,
        "resource": {"type": request.resource.type, "id": request.resource.id},
        "decision": verdict,
        "latency_us": round(decision.eval_us, 1),
    }
    if actor is not None:
        body["actor"] = actor
    if request.context:
        body["context"] = summarise(request.context, context_max_bytes)
    properties = {
        k: summarise(v, context_max_bytes)
        for k, v in (
            ("subject", request.principal_attrs),
            ("resource", request.resource_attrs),
            ("action", request.action_attrs),
        )
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
        body = decision_record(
            request,
            decision,
            at=self._clock.now(),
            source=source,
            actor=actor,
            state=state,
            context_max_bytes=self._max,
            outcome=outcome,
        )
        return self.log.record(body)
