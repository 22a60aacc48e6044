"""The Cedar engine, through ``cedarpy``: the only module that imports it.

Parses policy text once into per-policy pieces (with each policy's scope, for slicing), builds reusable
``PolicySet``/``Entities`` handles, validates against a schema, evaluates, and turns cedarpy's exceptions and
diagnostics into ours. Policy ids come from an ``@id("...")`` annotation, else ``policy<N>`` by position.
"""

from __future__ import annotations

import _json
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import cedarpy

from remit.policy import syntax
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.policy.model import EntityRef

ScopeOp = Literal["all", "eq", "in", "is"]
_ERROR_POLICY = re.compile(r"policy `([^`]+)`")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/#@-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Scope:
    """One scope constraint of a policy head: ``principal == X``, ``resource in X``, ``resource is T in X``."""

    op: ScopeOp
    refs: tuple[EntityRef, ...] = ()
    type: str | None = None  #: for ``is``


@dataclass(frozen=True, slots=True)
class ParsedPolicy:
    id: str
    effect: Literal["permit", "forbid"]
    principal: Scope
    action: Scope
    resource: Scope
    est: dict[str, Any] = field(repr=False, compare=False, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


class RawResult(NamedTuple):
    allowed: bool
    reasons: tuple[str, ...]
    errors: tuple[tuple[str, str], ...]  #: (policy id, message)


PolicySetHandle = cedarpy.PolicySet
EntitiesHandle = cedarpy.Entities


def parse(text: str, *, id_prefix: str = "") -> list[ParsedPolicy]:
    """Parse policy text; ``PolicySyntaxError`` with the line and column of the offending token."""
    try:
        document = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise _locate(text, str(exc)) from exc
    if document.get("templates"):
        raise _at(
            text,
            None,
            "?",
            "policy templates (?principal/?resource slots) are not supported; write static policies",
        )
    out: list[ParsedPolicy] = []
    seen: set[str] = set()
    for auto_id, est in document.get("staticPolicies", {}).items():
        annotations = {k: ("" if v is None else str(v)) for k, v in (est.get("annotations") or {}).items()}
        pid = id_prefix + annotations.get("id", auto_id)
        if not _ID.match(pid):
            shown = repr(pid if len(pid) <= 60 else pid[:57] + "...")
            raise _at(
                text, auto_id, "@id", f"@id({shown}): ids are letters, digits and . _ : / # @ - (1 to 200 of them)"
            )
        if pid in seen:
            raise _at(text, auto_id, "@id", f"two policies have the id {pid!r}; @id values must be unique")
        seen.add(pid)
        out.append(
            ParsedPolicy(
                id=pid,
                effect=est["effect"],
                principal=_scope(est["principal"]),
                action=_scope(est["action"]),
                resource=_scope(est["resource"]),
                est=est,
                annotations=annotations,
            )
        )
    return out


def policy_set(policies: Iterable[ParsedPolicy]) -> PolicySetHandle:
    """A reusable parsed handle over exactly these policies, keyed by our ids (so reasons name them)."""
    document = {"staticPolicies": {p.id: p.est for p in policies}, "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))


def entities(items: Sequence[dict[str, Any]]) -> EntitiesHandle:
    """A reusable parsed entity set (Cedar JSON entity format)."""
    return cedarpy.Entities.from_json_str(json.dumps(list(items)))


def check_entities(items: Sequence[dict[str, Any]]) -> None:
    """Raise ``PolicyValidationError`` when Cedar cannot read these entities."""
    try:
        entities(items)
    except ValueError as exc:
        raise PolicyValidationError(f"entities: {exc}", field="entities") from exc


def validate(policies: Sequence[ParsedPolicy], schema: dict[str, Any]) -> list[str]:
    """Schema validation; one message per problem, naming the policy by our id."""
    text = cedarpy.policies_from_json_str(
        json.dumps({"staticPolicies": {p.id: p.est for p in policies}, "templates": {}, "templateLinks": []})
    )
    try:
        result = cedarpy.validate_policies(text, json.dumps(schema))
    except ValueError as exc:
        return [f"schema: {exc}"]
    ids = [p.id for p in policies]
    problems: list[str] = []
    for err in result.errors:
        if not err.policy_id:  # the schema itself
            problems.append(f"schema: {err.error}")
            continue
        # validate_policies re-parses the text, so its ids are positional: map them back to ours
        index = int(err.policy_id[len("policy") :]) if err.policy_id.startswith("policy") else -1
        name = ids[index] if 0 <= index < len(ids) else err.policy_id
        problems.append(f"policy {name}: {str(err.error).replace(f'`{err.policy_id}`', f'`{name}`')}")
    return problems


def evaluate_public(
    principal: EntityRef,
    action: str,
    resource: EntityRef,
    context: dict[str, Any],
    policies: PolicySetHandle,
    entity_set: EntitiesHandle | list[dict[str, Any]],
) -> RawResult:
    """``evaluate`` through cedarpy's public ``is_authorized``: the fallback, and the reference the native path is
    tested against."""
    request = {
        "principal": principal.as_json(),
        "action": {"type": "Action", "id": action},
        "resource": resource.as_json(),
        "context": context,
    }
    result = cedarpy.is_authorized(request, policies, entity_set)
    diagnostics = result.diagnostics
    errors = tuple((_error_policy(msg), str(msg)) for msg in diagnostics.errors)
    return RawResult(allowed=bool(result.allowed), reasons=tuple(diagnostics.reasons), errors=errors)


# cedarpy's ``is_authorized`` is a Python layer over its native ``is_authorized_batch``: it copies the request,
# serialises the context, parses the JSON answer and wraps it in objects. On this engine's hot path that layer
# costs nearly as much as Cedar's own evaluation, so the engine calls the native function directly, with exactly
# the arguments the public layer would pass, and reads the same JSON. Feature-detected: a cedarpy without it
# falls back to ``evaluate_public``; an answer of another shape raises, and the engine denies (fail closed).
# ``tests/policy/test_cedar_native.py`` checks that both paths decide alike on the locked version.
try:
    from cedarpy import _internal as _native

    _native_batch: Any = getattr(_native, "is_authorized_batch", None)
except ImportError:  # pragma: no cover - depends on the installed cedarpy
    _native_batch = None


def native_available() -> bool:
    return _native_batch is not None


def _evaluate_native(
    principal: EntityRef,
    action: str,
    resource: EntityRef,
    context: dict[str, Any],
    policies: PolicySetHandle,
    entity_set: EntitiesHandle | list[dict[str, Any]],
) -> RawResult:
    principal_type, principal_id = principal
    resource_type, resource_id = resource
    request = {
        "principal": {"type": principal_type, "id": principal_id},
        "action": {"type": "Action", "id": action},
        "resource": {"type": resource_type, "id": resource_id},
        "context": _dumps(context),
    }
    native_entities = json.dumps(entity_set) if isinstance(entity_set, list) else entity_set._inner
    (answer,) = _native_batch([request], policies, native_entities, None, False)
    decision, diagnostics = _read_answer(answer)
    # Allow, Deny, or NoDecision when Cedar could not build the request
    if decision != "Allow" and decision != "Deny" and decision != "NoDecision":
        raise RuntimeError(f"unexpected Cedar decision {decision!r}")
    found = diagnostics.get("errors")
    errors = tuple((_error_policy(msg), str(msg)) for msg in found) if found else ()
    result: RawResult = _new_result(RawResult, (decision == "Allow", tuple(diagnostics.get("reason", ())), errors))
    return result


_new_result: Any = tuple.__new__  #: ``RawResult(...)`` without its keyword handling


#: ``json.dumps(context)``, the same text, with the encoder that ``json.dumps`` builds on every call built once.
#: The context is a flat record or ``to_cedar``'s fresh copy (see the engine), never a cycle: not checked for one.
_encode_context = _json.make_encoder(
    None, json.JSONEncoder().default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def _dumps(value: Any) -> str:
    return "".join(_encode_context(value, 0))


_ANSWER_HEAD = '{"decision":"'
_ANSWER_DIAGNOSTICS = '","correlation_id":null,"diagnostics":'
_answer_decoder = json.JSONDecoder()
_scan_answer: Any = _answer_decoder.scan_once  # type: ignore[attr-defined]


def _read_answer(answer: str) -> tuple[Any, Any]:
    """The ``decision`` and ``diagnostics`` members of the native answer. When it has the shape this cedarpy
    writes (decision, a null correlation id, diagnostics, then metrics), only the decision and the diagnostics
    object are decoded, not the metrics that follow; any other shape is decoded whole."""
    if answer.startswith(_ANSWER_HEAD):
        end = answer.find(_ANSWER_DIAGNOSTICS, len(_ANSWER_HEAD))
        if end > 0:
            at = end + len(_ANSWER_DIAGNOSTICS)
            try:  # _answer_decoder.raw_decode(answer, at), without its frame
                diagnostics, _ = _scan_answer(answer, at)
            except StopIteration as err:
                raise json.JSONDecodeError("Expecting value", answer, err.value) from None
            if type(diagnostics) is dict:
                return answer[len(_ANSWER_HEAD) : end], diagnostics
    result = json.loads(answer)
    return result["decision"], result.get("diagnostics", {})


#: One Cedar evaluation. ``ValueError`` from cedarpy (a malformed request or context) propagates.
evaluate = _evaluate_native if _native_batch is not None else evaluate_public


def _error_policy(message: str) -> str:
    match = _ERROR_POLICY.search(message)
    return match.group(1) if match else "?"


def _scope(node: dict[str, Any]) -> Scope:
    op = node.get("op")
    if op == "All":
        return Scope("all")
    if "slot" in node:
        raise PolicySyntaxError("policy templates (?principal/?resource slots) are not supported")
    if op == "==":
        return Scope("eq", (_ref(node["entity"]),))
    if op == "in":
        if "entities" in node:
            return Scope("in", tuple(_ref(e) for e in node["entities"]))
        return Scope("in", (_ref(node["entity"]),))
    if op == "is":
        inside = node.get("in")
        refs = (_ref(inside["entity"]),) if inside and "entity" in inside else ()
        return Scope("is", refs, node["entity_type"])
    raise PolicySyntaxError(f"unsupported scope constraint {op!r}")


def _ref(node: dict[str, Any]) -> EntityRef:
    return EntityRef(str(node["type"]), str(node["id"]))


def _parse_error(text: str) -> str | None:
    try:
        cedarpy.policies_to_json_str(text)
    except ValueError as exc:
        return str(exc)
    return None


def _at(text: str, auto_id: str | None, token: str, message: str) -> PolicySyntaxError:
    """The error at the first token starting with ``token`` in the policy Cedar numbered ``auto_id`` (``policy3``
    is the fourth statement), or in any statement when ``auto_id`` is None."""
    statements = syntax.split_statements(text)
    if auto_id is not None:
        index = int(auto_id[len("policy") :]) if auto_id[len("policy") :].isdigit() else -1
        statements = statements[index : index + 1] if 0 <= index < len(statements) else []
    for start, statement in statements:
        for t in syntax.tokenize(statement):
            if t.text.startswith(token) or statement.startswith(token, t.start):
                found = syntax.position(text, start + t.start, message)
                return PolicySyntaxError(message, line=found.line, column=found.column)
        if auto_id is not None:
            found = syntax.position(text, start, message)
            return PolicySyntaxError(message, line=found.line, column=found.column)
    return PolicySyntaxError(message)


def _locate(text: str, message: str) -> PolicySyntaxError:
    """The error at the line and column of the offending token (``remit.policy.syntax``)."""
    found = syntax.locate(text, _parse_error)
    if found is None:
        return PolicySyntaxError(message, line=1, column=1)
    return PolicySyntaxError(found.message, line=found.line, column=found.column)
