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
* ``context``: the request context, masked; ``outcome``: ``{status}`` of a gateway's upstream call;
* ``target``, ``before``, ``after``, ``reason``: an admin change;
* ``masked``: the JSON paths whose values were replaced by ``"***"`` before writing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

AUDIT_SCHEMA = "remit.audit/v1"
MASK = "***"

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


# -- masking ---------------------------------------------------------------------------------------------------

#: member names whose values are secrets wherever they appear
SECRET_KEYS = re.compile(
    r"(?i)^(.*[_-])?(password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"authorization|auth|cookie|session|credential|credentials|client[_-]?secret|bearer|jwt|signature)$"
)
#: values that look like credentials whatever their member name
SECRET_VALUES = re.compile(
    r"(?i)("
    r"^bearer\s+\S+"  # an Authorization header value
    r"|^remit_[a-z]+_[A-Za-z0-9_-]{16,}"  # Remit's own secrets
    r"|^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # a JWT
    r"|^(AKIA|ASIA)[A-Z0-9]{16}$"  # an AWS access key id
    r"|^(sk|pk|rk)[-_](live|test|proj)?[-_]?[A-Za-z0-9]{16,}"  # Stripe/OpenAI-style keys
    r"|^gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|^xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r")"
)
#: the first two characters, lower-cased, of every ASCII string ``SECRET_VALUES`` matches at its start
_VALUE_PREFIXES = frozenset({"be", "re", "ey", "ak", "as", "sk", "pk", "rk", "gh", "xo"})
#: ``SECRET_KEYS`` answers by member name: contexts reuse a small vocabulary of names
_KEY_VERDICTS: dict[str, bool] = {}
_KEY_VERDICTS_MAX = 4096


def _secret_key(key: str) -> bool:
    verdict = _KEY_VERDICTS.get(key)
    if verdict is None:
        verdict = SECRET_KEYS.match(key) is not None
        if len(_KEY_VERDICTS) < _KEY_VERDICTS_MAX:
            _KEY_VERDICTS[key] = verdict
    return verdict


def _secret_value(value: str) -> bool:
    # WARNING: a pre-filter before the regex; it must let through every string SECRET_VALUES can match. Every
    # alternative but the PEM one is anchored at the start (the prefixes above), the PEM one needs "-----", and a
    # string with non-ASCII characters always goes to the regex (case-insensitive matching folds some of them
    # to ASCII letters: U+017F, the long s, matches "s").
    if value.isascii() and value[:2].lower() not in _VALUE_PREFIXES and "-----" not in value:
        return False
    return SECRET_VALUES.search(value) is not None


@dataclass(frozen=True, slots=True)
class Masker:
    """Replaces secrets in a JSON value with ``"***"``: members named like secrets, values shaped like
    credentials, and the configured paths (dotted, from the record's root, ``*`` for any member or item:
    ``context.arguments.card_number``, ``context.headers.*``)."""

    paths: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_paths(cls, paths: Iterable[str]) -> Masker:
        return cls(tuple(tuple(p.split(".")) for p in paths if p))

    def mask(
        self, record: Json, members: Sequence[str] = ("context", "properties", "arguments", "before", "after")
    ) -> Json:
        """``record`` with its ``members`` masked and ``masked`` listing what was replaced (a new dict if any)."""
        found: list[str] = []
        out = dict(record)
        walk = self._walk if self.paths else self._scan
        for name in members:
            if name in out and out[name] is not None:
                out[name] = walk(out[name], (name,), found)
        if found:
            out["masked"] = sorted(set(found))
        return out

    def _walk(self, value: Any, path: tuple[str, ...], found: list[str]) -> Any:
        if self._configured(path):
            found.append(".".join(path))
            return MASK
        if isinstance(value, dict):
            changed: dict[str, Any] = {}
            for key, item in value.items():
                child = (*path, str(key))
                if isinstance(key, str) and _secret_key(key) and item is not None and item != "":
                    found.append(".".join(child))
                    changed[key] = MASK
                else:
                    changed[key] = self._walk(item, child, found)
            return changed
        if isinstance(value, list):
            return [self._walk(item, (*path, str(i)), found) for i, item in enumerate(value)]
        if isinstance(value, str) and _secret_value(value):
            found.append(".".join(path))
            return MASK
        return value

    def _scan(self, value: Any, path: tuple[str, ...], found: list[str]) -> Any:
        """``_walk`` when no paths are configured (the usual case): the same result (copies, masks, paths found),
        with scalars checked in place instead of one call each."""
        if isinstance(value, dict):
            changed: dict[str, Any] = {}
            for key, item in value.items():
                if isinstance(key, str) and _secret_key(key) and item is not None and item != "":
                    found.append(".".join((*path, key)))
                    changed[key] = MASK
                elif isinstance(item, str):
                    if _secret_value(item):
                        found.append(".".join((*path, str(key))))
                        changed[key] = MASK
                    else:
                        changed[key] = item
                elif isinstance(item, dict | list):
                    changed[key] = self._scan(item, (*path, str(key)), found)
                else:
                    changed[key] = item
            return changed
        if isinstance(value, list):
            return [self._scan(item, (*path, str(i)), found) for i, item in enumerate(value)]
        if isinstance(value, str) and _secret_value(value):
            found.append(".".join(path))
            return MASK
        return value

    def _configured(self, path: tuple[str, ...]) -> bool:
        for pattern in self.paths:
            if len(pattern) == len(path) and all(p in ("*", s) for p, s in zip(pattern, path, strict=True)):
                return True
        return False


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


def change_record(event: Any) -> Json:
    """The audit record of an admin change (a ``remit.audit.events.ChangeEvent``), masked by default rules."""
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
    return Masker().mask(body, ("before", "after", "extra"))
