"""OpenID AuthZEN Authorization API 1.0 over the policy engine: request bodies in, decisions and search results out.

https://openid.net/specs/authorization-api-1_0.html

* Subject and Resource ``{type, id, properties}`` become the Cedar entity ``cedar_type(type)::"id"``, with
  ``properties`` merged over its stored attributes; an entity that is not stored is evaluated as described.
  Action ``{name, properties}`` becomes ``Action::"name"``; ``context`` becomes the Cedar context.
* Bodies arrive as decoded JSON. Anything the spec does not allow (a missing member, a wrong type) raises
  ``InvalidAuthZenRequest`` naming the field, which the HTTP edge answers with 400; unknown members are ignored.
* A deny is a decision, never an error: ``{"decision": false, "context": {"decision_id", "reason"}}``, where the
  reason names the deciding policies and whether a just-in-time access request could help.

Searches live in ``remit.policy.search``; this module holds the wire model they share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from remit.admin.access import Act, AdminPrincipal, authorize
from remit.audit.decisions import DecisionRecorder
from remit.audit.receipt import Receipt
from remit.errors import BadRequest
from remit.explain import json_problem
from remit.ids import new_id
from remit.policy.compile import AGENT, TYPE_ALIASES, cedar_type
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode, build
from remit.policy.state import CompiledState
from remit.policy.values import is_cedar_record, to_cedar

MAX_TYPE = 256
MAX_ID = 1024
MAX_NAME = 256
MAX_EVALUATIONS = 1000

Json = dict[str, Any]


class InvalidAuthZenRequest(BadRequest):
    """An AuthZEN request body the spec does not allow; ``field`` names the member at fault."""

    code = "invalid_authzen_request"


class Semantic(StrEnum):
    """``options.evaluations_semantic`` of a batch (spec: Access Evaluations API, evaluations semantics)."""

    EXECUTE_ALL = "execute_all"
    DENY_ON_FIRST_DENY = "deny_on_first_deny"
    PERMIT_ON_FIRST_PERMIT = "permit_on_first_permit"


@dataclass(frozen=True, slots=True)
class Party:
    """A subject or resource as sent: the AuthZEN ``type`` (kept for answers), ``id``, ``properties``."""

    type: str
    id: str | None
    properties: Json | None = None


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    properties: Json | None = None


# -- parsing ------------------------------------------------------------------------------------------------


def parse_json(raw: bytes) -> Any:
    """Decode a request body; 400 for an empty body, invalid JSON, NaN/Infinity or absurd nesting."""
    if raw[:1] == b"{" and raw[1:2] != b"\x00":  # the usual body: not empty, and UTF-8 by json.detect_encoding
        encoding = "utf-8"
    else:
        if not raw.strip():
            raise InvalidAuthZenRequest("the request body is empty; send a JSON object", field="body")
        encoding = json.detect_encoding(raw)
    try:  # what json.loads(raw, parse_constant=...) does, with a decoder built once rather than per call
        text = raw.decode(encoding, "surrogatepass")
        body = _DECODER.decode(text)
        # An unpaired surrogate (encoded, or escaped as \ud800) is not text: no record holding it could be stored,
        # and the batch of decisions it was written with would fail with it. Only a body with escapes or non-ASCII
        # can hold one, so the usual body is not looked at twice.
        if ("\\u" in text or not text.isascii()) and not _is_text(body):
            raise InvalidAuthZenRequest("the request body holds an unpaired surrogate: it is not text", field="body")
        return body
    except RecursionError as exc:
        raise InvalidAuthZenRequest("the request body is nested too deeply", field="body") from exc
    except json.JSONDecodeError as exc:
        detail = json_problem(exc.msg, exc.doc, exc.pos)
        raise InvalidAuthZenRequest(f"the request body is not valid JSON: {detail}", field="body") from exc
    except UnicodeDecodeError as exc:
        raise InvalidAuthZenRequest(
            f"the request body is not valid JSON: it is not {encoding} text", field="body"
        ) from exc
    except ValueError as exc:  # NaN, Infinity (``_no_constant``)
        raise InvalidAuthZenRequest(f"the request body is not valid JSON: {_short(exc)}", field="body") from exc


def _is_text(body: Any) -> bool:
    """Whether every string in ``body`` (keys too) is valid Unicode, encodable as UTF-8."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def body_object(body: Any) -> Json:
    if not isinstance(body, dict):
        raise InvalidAuthZenRequest("the request body must be a JSON object", field="body")
    return body


def member(obj: Json, key: str, where: str = "") -> Json | None:
    """An optional object member: absent or null is None, anything but an object is a 400."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{where}{key} must be a JSON object", field=f"{where}{key}")
    return value


def party(value: Any, field: str, *, need_id: bool) -> Party:
    """A Subject or Resource. ``need_id=False`` for the searched-for side, whose id the spec says to ignore."""
    if value is None:
        raise InvalidAuthZenRequest(f"{field} is required", field=field)
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object with type and id", field=field)
    type_ = _string(value, "type", field, MAX_TYPE, empty=False)
    ident = _string(value, "id", field, MAX_ID, empty=True) if need_id else None
    return Party(type_, ident, _properties(value, field))


def action(value: Any, field: str = "action") -> Action:
    if value is None:
        raise InvalidAuthZenRequest(f"{field} is required", field=field)
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object with a name", field=field)
    return Action(_string(value, "name", field, MAX_NAME, empty=False), _properties(value, field))


def context(value: Any, field: str = "context") -> Json:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object", field=field)
    _cedar_compatible(value, field)
    return value


def _string(obj: Json, key: str, where: str, max_length: int, *, empty: bool) -> str:
    value = obj.get(key)
    if type(value) is str and (value or empty) and len(value) <= max_length:
        return value  # the usual case, decided without building the field's name
    field = f"{where}.{key}"
    if value is None:
        raise InvalidAuthZenRequest(f"{field} is required", field=field)
    if not isinstance(value, str):
        raise InvalidAuthZenRequest(f"{field} must be a string, not {_json_type(value)}", field=field)
    if not value and not empty:
        raise InvalidAuthZenRequest(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidAuthZenRequest(f"{field} is longer than {max_length} characters", field=field)
    return value


def _properties(obj: Json, where: str) -> Json | None:
    value = obj.get("properties")
    if value is None:
        return None
    field = f"{where}.properties"
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object", field=field)
    _cedar_compatible(value, field)
    return value


def _cedar_compatible(value: Json, field: str) -> None:
    if is_cedar_record(value):  # a flat record of strings, booleans and 64-bit integers: nothing can fail
        return
    try:
        to_cedar(value)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidAuthZenRequest(f"{field}: {exc}", field=field) from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: NaN and Infinity refused; built once (``json.loads`` with any keyword builds a decoder per call)
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else "a string"


# -- decisions ----------------------------------------------------------------------------------------------


def decision_body(d: Decision) -> Json:
    """``{decision, context}``: the ``decision_id`` always, and on deny the reason an agent can act on."""
    ctx: Json = {"decision_id": d.decision_id}
    if d.effect is _DENY:
        ctx["reason"] = reason(d)
    return {"decision": d.allowed, "context": ctx}


def reason(d: Decision) -> Json:
    out: Json = {
        "code": _CODE_VALUES[d.deny_code or _NO_PERMIT],  # code.value
        "message": d.message,
        "policies": list(d.reasons),
        "access_request_possible": d.request_access_possible,
    }
    if d.errors:  # ids only: Cedar's messages can quote attribute values
        out["errored_policies"] = [e.split(": ", 1)[0] for e in d.errors]
    if d.allowed:  # log-only mode: the policies deny, the caller is told allow
        out["enforced"] = d.mode is not _LOG_ONLY
    return out


def refused(message: str, field: str) -> Json:
    """A batch item that could not be evaluated: a deny (spec: errors in individual evaluations), not a 400."""
    return {
        "decision": False,
        "context": {
            "decision_id": new_id("dec"),
            "reason": {
                "code": DenyCode.INVALID_REQUEST.value,
                "message": message,
                "field": field,
                "policies": [],
                "access_request_possible": False,
            },
        },
    }


class AuthZen:
    """The AuthZEN operations on one engine. Callers need ``decision.evaluate`` (admin, auditor, pep).

    With a ``recorder``, every decision is put in the audit log and its receipt appended to ``receipts``: the
    caller releases the answer only once they have resolved.
    """

    def __init__(
        self,
        engine: PolicyEngine,
        recorder: DecisionRecorder | None = None,
        receipts: list[Receipt] | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.receipts = receipts if receipts is not None else []
        self.actor = actor

    def _decide(self, request: AuthzRequest) -> Decision:
        decision = self.engine.evaluate(request)
        if self.recorder is not None:
            receipt = self.recorder.record(
                request, decision, source="authzen", actor=self.actor, state=self.engine.state
            )
            if not self.receipts or self.receipts[-1] is not receipt:
                self.receipts.append(receipt)
        return decision

    def evaluation(self, p: AdminPrincipal, body: Any) -> Json:
        """Access Evaluation API: one decision."""
        authorize(p, _EVALUATE)
        return decision_body(self._decide(self.request(body_object(body))))

    def evaluations(self, p: AdminPrincipal, body: Any) -> Json:
        """Access Evaluations API: top-level members are defaults that an item's member replaces whole; answers
        keep the request's order. Without a non-empty ``evaluations`` array it is the single evaluation."""
        authorize(p, Act.DECISION_EVALUATE)
        obj = body_object(body)
        items = obj.get("evaluations")
        if items is None or items == []:
            return self._evaluate_single(obj)
        if not isinstance(items, list):
            raise InvalidAuthZenRequest("evaluations must be an array", field="evaluations")
        if len(items) > MAX_EVALUATIONS:
            raise InvalidAuthZenRequest(f"at most {MAX_EVALUATIONS} evaluations in one request", field="evaluations")
        semantic = _semantic(obj)
        # Check every member's type up front: a wrong type anywhere refuses the whole payload (400); a member
        # missing after the defaults is that item's own failure, answered in place (spec: errors in evaluations).
        defaults = {key: obj.get(key) for key in ("subject", "action", "resource", "context")}
        _check_types(defaults, "")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidAuthZenRequest(f"evaluations[{i}] must be a JSON object", field=f"evaluations[{i}]")
            _check_types(item, f"evaluations[{i}].")
        out: list[Json] = []
        for i, item in enumerate(items):
            merged = {key: item[key] if item.get(key) is not None else value for key, value in defaults.items()}
            try:
                request = self.request(merged)
            except InvalidAuthZenRequest as exc:
                answer = refused(f"evaluations[{i}]: {exc.message}", f"evaluations[{i}].{exc.field}")
            else:
                answer = decision_body(self._decide(request))
            out.append(answer)
            if semantic is Semantic.DENY_ON_FIRST_DENY and not answer["decision"]:
                break
            if semantic is Semantic.PERMIT_ON_FIRST_PERMIT and answer["decision"]:
                break
        return {"evaluations": out}

    def _evaluate_single(self, obj: Json) -> Json:
        return decision_body(self._decide(self.request(obj)))

    def request(self, obj: Json) -> AuthzRequest:
        """The engine's request for one evaluation body."""
        plain = _plain_request(obj, self.engine.state)
        return plain if plain is not None else self.checked_request(obj)

    def checked_request(self, obj: Json) -> AuthzRequest:
        """``request``, member by member: every body goes through here unless ``_plain_request`` took it."""
        subject = party(obj.get("subject"), "subject", need_id=True)
        act = action(obj.get("action"))
        resource = party(obj.get("resource"), "resource", need_id=True)
        ctx = context(obj.get("context"))
        state = self.engine.state
        return AuthzRequest(
            principal=entity_ref(state, subject),
            action=act.name,
            resource=entity_ref(state, resource),
            context=ctx,
            principal_attrs=subject.properties,
            resource_attrs=resource.properties,
            action_attrs=act.properties,
        )


def _plain_request(obj: Json, state: CompiledState | None) -> AuthzRequest | None:
    """The request for the usual body, checked in one pass: subject and resource ``{type, id}`` and action
    ``{name}`` as non-empty strings within their limits (an empty id is allowed, as ``party`` allows it), no
    ``properties`` anywhere, and a context that is absent, null or a flat Cedar record. It accepts nothing that
    the member-by-member checks above refuse and builds the same request; anything else is None, and those checks
    then decide (with their 400 naming the field)."""
    subject, act, resource, ctx = obj.get("subject"), obj.get("action"), obj.get("resource"), obj.get("context")
    if type(subject) is not dict or type(act) is not dict or type(resource) is not dict:
        return None
    s_type, s_id, r_type, r_id = subject.get("type"), subject.get("id"), resource.get("type"), resource.get("id")
    name = act.get("name")
    if not (
        type(s_type) is str
        and type(s_id) is str
        and type(r_type) is str
        and type(r_id) is str
        and type(name) is str
        and 0 < len(s_type) <= MAX_TYPE
        and 0 < len(r_type) <= MAX_TYPE
        and len(s_id) <= MAX_ID
        and len(r_id) <= MAX_ID
        and 0 < len(name) <= MAX_NAME
        and subject.get("properties") is None
        and resource.get("properties") is None
        and act.get("properties") is None
    ):
        return None
    if ctx is None:
        ctx = {}
    elif not is_cedar_record(ctx):
        return None
    return build(
        AuthzRequest,
        {
            "principal": _ref(state, s_type, s_id),
            "action": name,
            "resource": _ref(state, r_type, r_id),
            "context": ctx,
            "principal_attrs": None,
            "resource_attrs": None,
            "action_attrs": None,
        },
    )


_make: Any = tuple.__new__  #: ``_make(EntityRef, (type, id))`` is ``EntityRef(type, id)`` without the call
# An enum's members, and their values, are slow to reach (``EnumType.__getattr__``, the ``value`` property).
_DENY = Effect.DENY
_LOG_ONLY = Mode.LOG_ONLY
_NO_PERMIT = DenyCode.NO_PERMIT
_CODE_VALUES = {code: code.value for code in DenyCode}
_EVALUATE = Act.DECISION_EVALUATE


def _ref(state: CompiledState | None, type_: str, ident: str) -> EntityRef:
    ctype = TYPE_ALIASES.get(type_.lower(), type_)  # cedar_type, inline
    if ctype == AGENT and ident.startswith("spiffe://"):
        return entity_ref(state, Party(type_, ident))
    ref: EntityRef = _make(EntityRef, (ctype, ident))
    return ref


def entity_ref(state: CompiledState | None, p: Party) -> EntityRef:
    """The Cedar uid of a party. An agent may be named by its SPIFFE id as well as by its name."""
    ctype = cedar_type(p.type)
    ident = p.id or ""
    if ctype == AGENT and ident.startswith("spiffe://") and state is not None:
        name = ident.rsplit("/", 1)[-1]
        stored = state.stored.get(EntityRef(AGENT, name))
        if stored is not None and stored.get("attrs", {}).get("spiffe_id") == ident:
            return EntityRef(AGENT, name)
    return EntityRef(ctype, ident)


def _party_shape(value: Any, field: str) -> None:
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object with type and id", field=field)
    for key, limit in (("type", MAX_TYPE), ("id", MAX_ID)):
        if value.get(key) is not None:
            _string(value, key, field, limit, empty=key == "id")
    _properties(value, field)


def _action_shape(value: Any, field: str) -> None:
    if not isinstance(value, dict):
        raise InvalidAuthZenRequest(f"{field} must be a JSON object with a name", field=field)
    if value.get("name") is not None:
        _string(value, "name", field, MAX_NAME, empty=False)
    _properties(value, field)


_CHECKS: dict[str, Callable[[Any, str], object]] = {
    "subject": _party_shape,
    "resource": _party_shape,
    "action": _action_shape,
    "context": context,
}


def _check_types(obj: Json, where: str) -> None:
    """The batch members' types, present ones only (a missing member is left for its item to report)."""
    for key, check in _CHECKS.items():
        value = obj.get(key)
        if value is not None:
            check(value, f"{where}{key}")


def _semantic(obj: Json) -> Semantic:
    options = member(obj, "options")
    if options is None or options.get("evaluations_semantic") is None:
        return Semantic.EXECUTE_ALL
    value = options["evaluations_semantic"]
    try:
        return Semantic(value)
    except (ValueError, TypeError) as exc:
        allowed = ", ".join(s.value for s in Semantic)
        raise InvalidAuthZenRequest(
            f"options.evaluations_semantic must be one of {allowed}", field="options.evaluations_semantic"
        ) from exc
