"""Audit records (``remit.audit/v1``) as OCSF 1.x events, for SIEMs: ``to_ocsf(record)``. Pure.

https://schema.ocsf.io/ (events written against OCSF ``1.3.0``)

Which class:

* a decision (AuthZEN, SDK): **Authorize Session** (``class_uid`` 3003, category 3 Identity & Access
  Management), activity 1 Assign Privileges;
* a decision from the gateway: **API Activity** (6003, category 6 Application Activity), activity Create /
  Read / Update / Delete from the action (``read``, ``write``, ...), else 99 Other (``call_tool``);
* a change to an agent or a user that creates, enables (``resume``), disables (``suspend``, ``quarantine``) or
  deletes (``retire``) it: **Account Change** (3001, category 3), activity 1 Create, 2 Enable, 5 Disable, 6 Delete;
* any other change (roles, resources, policies, admin tokens, an agent's update), and token or grant records:
  **API Activity** (6003), activity from the action's verb (``role.create`` Create, ``policy.activate`` Update,
  ``admin_token.revoke`` Delete), 99 Other for a token or grant verb it does not know.

Every event has ``class_uid``, ``category_uid``, ``activity_id``, ``type_uid`` (``class_uid * 100 +
activity_id``) and their names; ``time`` (epoch milliseconds of ``at``); ``severity_id`` 1 (Informational);
``metadata`` (``version`` of OCSF, ``product`` Remit with its version, ``uid`` the record's id, ``original_time``
the record's ``at``, ``sequence`` its ``seq``, ``log_name`` ``remit.audit``, ``event_code`` its action); ``status``
/ ``status_id``: Success (1) for an allow or a committed change, Failure (2) for a deny, with the deny code in
``status_code``; a ``message`` for people.

* A decision's principal is the ``user`` (``type`` its entity type, ``type_id`` 99 Other for an agent, 1 User for
  a human); ``actor.user`` is the same principal, ``actor.app_uid`` the PEP or admin token that asked
  (``actor``) and ``actor.app_name`` the source (``authzen``, ``sdk``, ``gateway``); ``actor.authorizations``
  lists the decision with each determining policy. ``privileges`` is ``[action]``. From the gateway, ``api``
  holds the operation (the action) and the resource as its service, ``resources`` the resource, and
  ``http_response.code`` the upstream status (``outcome.status``).
* A change's ``actor.user`` is who made it (``token:<id>`` or ``local:<os user>``); for an account change,
  ``user`` is the agent or user changed; otherwise ``api.operation`` is the change's action and ``resources``
  its target.
* ``src_endpoint.ip`` is the context's ``source_ip`` when it holds an IP address.
* ``unmapped`` carries the rest of the record (resource, decision details, context, properties, delegation,
  before and after, reason, what was masked): nothing recorded is lost in the mapping. ``raw_data`` (the
  record's canonical JSON) only when asked for, since it doubles the size.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from remit import __version__
from remit.audit.record import Json, canonical, parse_timestamp

OCSF_VERSION = "1.3.0"

AUTHORIZE_SESSION = (3003, "Authorize Session", 3, "Identity & Access Management")
ACCOUNT_CHANGE = (3001, "Account Change", 3, "Identity & Access Management")
API_ACTIVITY = (6003, "API Activity", 6, "Application Activity")

_API_ACTIVITIES = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}
#: verbs (the last part of an action, or a gateway's action) -> API Activity's CRUD activity
_CRUD = {
    "create": 1,
    "post": 1,
    "mint": 1,
    "apply": 1,
    "register": 1,
    "read": 2,
    "get": 2,
    "list": 2,
    "search": 2,
    "update": 3,
    "write": 3,
    "put": 3,
    "patch": 3,
    "assign": 3,
    "activate": 3,
    "rollback": 3,
    "mode": 3,
    "delete": 4,
    "remove": 4,
    "revoke": 4,
}
#: a change's verb on an agent or user -> Account Change activity
_ACCOUNT = {
    "create": (1, "Create"),
    "resume": (2, "Enable"),
    "enable": (2, "Enable"),
    "suspend": (5, "Disable"),
    "quarantine": (5, "Disable"),
    "disable": (5, "Disable"),
    "retire": (6, "Delete"),
    "delete": (6, "Delete"),
}
#: members mapped to OCSF attributes; everything else goes to ``unmapped``
_MAPPED = ("schema", "seq", "id", "at", "kind", "action", "source", "actor")


def to_ocsf(record: Json, *, raw: bool = False) -> Json:
    """The OCSF event for one audit record (as stored, with ``seq``). ``raw``: add ``raw_data``."""
    kind = record.get("kind")
    action = str(record.get("action", ""))
    if kind == "decision":
        event = _gateway(record, action) if record.get("source") == "gateway" else _authorize(record, action)
    else:
        event = _change(record, action)
    event.update(_common(record, action))
    source_ip = _source_ip(record)
    if source_ip is not None:
        event["src_endpoint"] = {"ip": source_ip}
    unmapped = {k: v for k, v in record.items() if k not in _MAPPED and v is not None}
    if unmapped:
        event["unmapped"] = unmapped
    if raw:
        event["raw_data"] = canonical(record)
    return event


# -- classes ---------------------------------------------------------------------------------------------------


def _authorize(record: Json, action: str) -> Json:
    principal = _principal(record)
    return {
        **_class(AUTHORIZE_SESSION, 1, "Assign Privileges"),
        "user": principal,
        "privileges": [action],
        "actor": _decision_actor(record, principal),
        **_status(record),
        "message": _decision_message(record, action),
    }


def _gateway(record: Json, action: str) -> Json:
    principal = _principal(record)
    activity_id = _CRUD.get(action.lower(), 99)
    resource = record.get("resource") or {}
    event: Json = {
        **_class(API_ACTIVITY, activity_id, _API_ACTIVITIES[activity_id]),
        "actor": _decision_actor(record, principal),
        "api": {
            "operation": action,
            "service": {"name": str(resource.get("id", "")), "uid": _resource_key(resource)},
            "request": {"uid": str(record.get("id", ""))},
        },
        "resources": [_resource(resource)] if resource else [],
        **_status(record),
        "message": _decision_message(record, action),
    }
    outcome = record.get("outcome")
    if isinstance(outcome, dict) and isinstance(outcome.get("status"), int):
        event["http_response"] = {"code": outcome["status"]}
    return event


def _change(record: Json, action: str) -> Json:
    target = record.get("target") or {}
    verb = action.rsplit(".", 1)[-1].lower()
    actor = {"user": {"uid": str(record.get("actor", "")), "name": str(record.get("actor", ""))}}
    what = f"{target.get('type', '?')} {target.get('id', '?')}" if target else action
    status: Json = {"status": "Success", "status_id": 1}
    account = _ACCOUNT.get(verb) if target.get("type") in ("agent", "user") else None
    if account is not None:
        return {
            **_class(ACCOUNT_CHANGE, *account),
            "user": _entity(str(target.get("type")), str(target.get("id", ""))),
            "actor": actor,
            **status,
            "message": f"{record.get('actor', '?')}: {action} {what}",
        }
    activity_id = _CRUD.get(verb, 99 if record.get("kind") != "change" else 3)
    return {
        **_class(API_ACTIVITY, activity_id, _API_ACTIVITIES[activity_id]),
        "actor": actor,
        "api": {"operation": action, "service": {"name": "Remit"}, "request": {"uid": str(record.get("id", ""))}},
        "resources": [{"uid": str(target.get("id", "")), "type": str(target.get("type", ""))}] if target else [],
        **(_status(record) if record.get("decision") else status),
        "message": f"{record.get('actor', '?')}: {action} {what}",
    }


# -- pieces ----------------------------------------------------------------------------------------------------


def _class(cls: tuple[int, str, int, str], activity_id: int, activity_name: str) -> Json:
    class_uid, class_name, category_uid, category_name = cls
    return {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
    }


def _common(record: Json, action: str) -> Json:
    at = str(record.get("at", ""))
    metadata: Json = {
        "version": OCSF_VERSION,
        "product": {"name": "Remit", "vendor_name": "Remit", "version": __version__},
        "uid": str(record.get("id", "")),
        "original_time": at,
        "log_name": "remit.audit",
        "event_code": action,
    }
    if isinstance(record.get("seq"), int):
        metadata["sequence"] = record["seq"]
    return {"time": _epoch_ms(at), "severity_id": 1, "severity": "Informational", "metadata": metadata}


def _epoch_ms(at: str) -> int:
    try:
        return int(parse_timestamp(at).timestamp() * 1000)
    except ValueError:
        return 0


def _principal(record: Json) -> Json:
    principal = record.get("principal") or {}
    return _entity(str(principal.get("type", "")), str(principal.get("id", "")))


def _entity(entity_type: str, ident: str) -> Json:
    human = entity_type.lower() == "user"
    return {
        "uid": ident,
        "name": ident,
        "type": "User" if human else (entity_type[:1].upper() + entity_type[1:] if entity_type else "Agent"),
        "type_id": 1 if human else 99,
    }


def _decision_actor(record: Json, principal: Json) -> Json:
    decision = record.get("decision") or {}
    verdict = "Allow" if decision.get("allowed") else "Deny"
    policies = [str(p) for p in decision.get("policies") or []]
    authorizations = [{"decision": verdict, "policy": {"uid": p, "name": p}} for p in policies] or [
        {"decision": verdict}
    ]
    actor: Json = {"user": principal, "authorizations": authorizations}
    if record.get("actor"):
        actor["app_uid"] = str(record["actor"])
    if record.get("source"):
        actor["app_name"] = str(record["source"])
    return actor


def _status(record: Json) -> Json:
    decision = record.get("decision") or {}
    if decision.get("allowed"):
        return {"status": "Success", "status_id": 1}
    out: Json = {"status": "Failure", "status_id": 2}
    if decision.get("deny_code"):
        out["status_code"] = str(decision["deny_code"])
    return out


def _decision_message(record: Json, action: str) -> str:
    principal = record.get("principal") or {}
    decision = record.get("decision") or {}
    verdict = "allowed" if decision.get("allowed") else "denied"
    resource = _resource_key(record.get("resource") or {})
    return f"{principal.get('type', '?')}::{principal.get('id', '?')} {action} {resource}: {verdict}"


def _resource_key(resource: Json) -> str:
    return f"{resource.get('type', '?')}::{resource.get('id', '?')}"


def _resource(resource: Json) -> Json:
    return {
        "uid": str(resource.get("id", "")),
        "type": str(resource.get("type", "")),
        "name": str(resource.get("id", "")),
    }


def _source_ip(record: Json) -> str | None:
    context = record.get("context")
    value: Any = context.get("source_ip") if isinstance(context, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
