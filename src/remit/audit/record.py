"""Audit records: one versioned shape for every decision, token operation, grant and admin change.

Schema ``remit.audit/v1``. A record is a JSON object; ``canonical`` gives the exact bytes that are hashed into the
chain and stored, so that verification re-hashes what is on disk. Pure: no I/O.

Members (absent when they do not apply):

* ``schema``, ``seq`` (position in the chain, set when written), ``id`` (for a decision, its ``decision_id``),
  ``at`` (ISO 8601, UTC), ``kind`` (``decision``, ``change``, ``token``, ``grant``), ``action``, ``source``
  (``authzen``, ``sdk``, ``gateway``, ``token``, ``admin``, ``cli``);
* ``actor``: who asked (``token:<id>`` of the PEP or admin, ``local:<user>``);
* ``principal``: ``{type, id, owner, on_behalf_of}``; ``resource``: ``{type, id}``;
* ``decision``: ``{allowed, effect, policies, errors, deny_code, policy_version, mode}``; ``latency_us``;
* ``context``: the request context; ``outcome``: ``{status}`` of a gateway's upstream call;
* ``target``, ``before``, ``after``, ``reason``: an admin change;
* ``masked``: the dotted paths of the members whose values (or names) were masked before writing
  (``remit.audit.mask``: ``"***"`` for a whole value, ``[masked:<kind>]`` for a credential inside text).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from remit.audit.mask import MASK as MASK
from remit.audit.mask import Masker as Masker

AUDIT_SCHEMA = "remit.audit/v1"

Json = dict[str, Any]


class Kind(StrEnum):
    DECISION = "decision"
    CHANGE = "change"
    TOKEN = "token"  # noqa: S105 - a record kind
    GRANT = "grant"


#: built once: ``json.dumps`` with these options builds an encoder on every call (a tenth of the cost here)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(record: Json) -> str:
    """The record's canonical JSON: sorted keys, no spaces, UTF-8 kept. What is stored and hashed."""
    return _CANONICAL.encode(record)


def timestamp(at: datetime) -> str:
    """UTC, microseconds, ``Z``: sorts as text. (``isoformat`` with its ``+00:00`` cut: the same text as
    ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` for years 1000 to 9999, a fifth of the cost.)"""
    return at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# -- building records ------------------------------------------------------------------------------------------


#: the characters each text column of the index holds, as the store's table declares them
INDEX_WIDTHS: dict[str, int] = {"action": 200, "agent": 200, "owner": 200, "resource": 1100}
#: a PostgreSQL b-tree entry is at most 2704 bytes: longer UTF-8 is keyed even within a column's width
_INDEX_MAX_BYTES = 2000


def index_key(value: Any, width: int) -> Any:
    """A value as its index column holds it: itself when the column can hold it (at most ``width`` characters and
    ``_INDEX_MAX_BYTES`` bytes of UTF-8, no NUL, which PostgreSQL cannot store), else ``sha256:`` and the hex
    digest of its UTF-8 (71 characters). A search for the same value through this function still matches exactly;
    the record's text keeps the value itself. A request's values are the caller's (an AuthZEN subject id of 1024
    characters, say): a value the store refused would fail the whole batch, every decision in it."""
    if not isinstance(value, str):
        return value
    if len(value) <= width and "\x00" not in value and (len(value) * 4 <= _INDEX_MAX_BYTES or _fits(value)):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _fits(value: str) -> bool:
    return len(value.encode("utf-8", "surrogatepass")) <= _INDEX_MAX_BYTES


def index_columns(body: Json) -> Json:
    """The columns stored beside a record's text, derived from it (and checked against it by verification). Text
    the store cannot hold as it is is keyed (``index_key``)."""
    principal = body.get("principal") or {}
    resource = body.get("resource") or {}
    decision = body.get("decision") or {}
    target = body.get("target") or {}
    agent = principal.get("id")
    if agent is None and target.get("type") == "agent":
        agent = target.get("id")
    if resource:
        resource_key: str | None = f"{resource.get('type')}::{resource.get('id')}"
    elif target:
        resource_key = f"{target.get('type')}::{target.get('id')}"
    else:
        resource_key = None
    return {
        "id": body["id"],
        "at": body["at"],
        "kind": body["kind"],
        "action": index_key(body["action"], _ACTION_WIDTH),
        "source": body.get("source", ""),
        "agent": index_key(agent, _AGENT_WIDTH),
        "owner": index_key(principal.get("owner") or body.get("owner"), _OWNER_WIDTH),
        "resource": index_key(resource_key, _RESOURCE_WIDTH),
        "allowed": decision.get("allowed") if decision else None,
    }


_ACTION_WIDTH, _AGENT_WIDTH = INDEX_WIDTHS["action"], INDEX_WIDTHS["agent"]
_OWNER_WIDTH, _RESOURCE_WIDTH = INDEX_WIDTHS["owner"], INDEX_WIDTHS["resource"]


def with_seq(body: Json, seq: int) -> Json:
    return {**body, "seq": seq}


#: the compact JSON ``summarise`` measures, with an encoder built once (``json.dumps`` builds one per call)
_measure = json.JSONEncoder(separators=(",", ":"), default=str).encode


def summarise(value: Any, max_bytes: int) -> Any:
    """``value`` if its JSON is at most ``max_bytes``; else a summary naming its members (never silently cut)."""
    if value is None:
        return None
    size = len(_measure(value))
    if size <= max_bytes:
        return value
    keys = sorted(value)[:50] if isinstance(value, dict) else None
    return {"_truncated": True, "_bytes": size, "_keys": keys}


def change_record(event: Any, masker: Masker | None = None) -> Json:
    """The audit record of an admin change (a ``remit.audit.events.ChangeEvent``), masked by ``masker`` (the
    default rules without one)."""
    body: Json = {
        "schema": AUDIT_SCHEMA,
        "id": event.id,
        "at": timestamp(event.at),
        "kind": Kind.CHANGE.value,
        "action": event.action,
        "source": "admin",
        "actor": event.actor,
        "target": {"type": event.target_type, "id": event.target_id},
        "before": event.before,
        "after": event.after,
    }
    if event.target_type == "agent":  # so that the agent's owner finds the changes to it in the log
        owner = (event.after or event.before or {}).get("owner") or (event.extra or {}).get("owner")
        if isinstance(owner, str):
            body["owner"] = owner
    if event.reason:
        body["reason"] = event.reason
    if event.extra:
        body["extra"] = event.extra
    return (masker or _DEFAULT).mask(body)


_DEFAULT = Masker()
