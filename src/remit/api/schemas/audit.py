"""Audit log reading: the query filters (shared by the API and the CLI), records, chain rows, an export's signed
end and the public key."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remit.audit.chain import Checkpoint, StoredRecord
from remit.audit.export import ExportEnd
from remit.audit.record import Kind, timestamp
from remit.audit.service import ChainSlice
from remit.errors import BadRequest
from remit.store.audit import AuditFilter

#: ``Type::id``: a Cedar type name, then the id (anything but control characters)
_RESOURCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*::[^\x00-\x1f\x7f]+$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
#: ``+00:00`` arrives as `` 00:00`` when a client forgets to percent-encode the ``+``
_UNENCODED_PLUS = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
DECISIONS = {"allow": True, "deny": False}


def parse_time(value: str, field: str) -> datetime:
    """An RFC 3339 date-time with a time zone (``2026-01-01T00:00:00Z``); ``BadRequest`` naming ``field``."""
    text = _UNENCODED_PLUS.sub(r"\1+\2", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or "T" not in text.upper():
        raise BadRequest(f"{field} must be an RFC 3339 date-time such as 2026-01-01T00:00:00Z", field=field)
    if parsed.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone: end it with Z or an offset such as +02:00", field=field)
    try:
        timestamp(parsed)  # the UTC conversion can leave the calendar at its edges
    except (OverflowError, ValueError) as exc:
        raise BadRequest(f"{field} is out of range", field=field) from exc
    return parsed


def audit_filter(
    *,
    agent: str | None = None,
    owner: str | None = None,
    resource: str | None = None,
    action: str | None = None,
    kind: str | None = None,
    decision: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
) -> AuditFilter:
    """The store's filter from query parameters; ``BadRequest`` naming the parameter that is wrong."""
    for name, value in (("agent", agent), ("owner", owner), ("action", action)):
        if value is not None and not _TEXT.fullmatch(value):
            raise BadRequest(f"{name} must be 1 to 200 characters without control characters", field=name)
    if resource is not None:
        resource = _unquote(resource)
    if resource is not None and (len(resource) > 400 or not _RESOURCE.fullmatch(resource)):
        raise BadRequest(
            "resource must be Type::id, e.g. Tool::helpdesk.get_ticket (the type as in audit records)",
            field="resource",
        )
    if kind is not None and kind not in {k.value for k in Kind}:
        raise BadRequest(f"kind must be one of {', '.join(k.value for k in Kind)}", field="kind")
    if decision is not None and decision not in DECISIONS:
        raise BadRequest("decision must be allow or deny", field="decision")
    start = parse_time(since, "since") if isinstance(since, str) else since
    end = parse_time(until, "until") if isinstance(until, str) else until
    if start is not None and end is not None and start >= end:
        raise BadRequest("since must be earlier than until", field="since")
    return AuditFilter(
        agent=agent,
        owner=owner,
        resource=resource,
        action=action,
        kind=kind,
        allowed=DECISIONS[decision] if decision is not None else None,
        since=timestamp(start) if start is not None else None,
        until=timestamp(end) if end is not None else None,
    )


def _unquote(resource: str) -> str:
    """``Tool::"x"`` (Cedar's way of writing it) as ``Tool::x`` (the way records index it)."""
    at = resource.find('::"')
    if at > 0 and resource.endswith('"') and len(resource) > at + 3:
        return f"{resource[:at]}::{resource[at + 3 : -1]}"
    return resource


class AuditRecord(BaseModel):
    """One record as stored (schema ``remit.audit/v1``; docs/audit.md lists its members). Members that do not
    apply are absent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(alias="schema", description="`remit.audit/v1`")
    seq: int = Field(description="The record's position in the chain.")
    id: str = Field(description="For a decision its `decision_id`, for a change the event id.")
    at: str = Field(description="UTC, microseconds: `2026-11-28T18:00:00.123456Z`.")
    kind: str = Field(description="`decision`, `change`, `token` or `grant`.")
    action: str
    source: str | None = None
    actor: str | None = None
    principal: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    target: dict[str, Any] | None = None


class ChainRecordResponse(BaseModel):
    """A stored row of the chain: its canonical text and the hashes that link it."""

    seq: int
    text: str
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, r: StoredRecord) -> ChainRecordResponse:
        return cls(seq=r.seq, text=r.text, prev_hash=r.prev_hash, hash=r.hash)


class CheckpointResponse(BaseModel):
    """A signed checkpoint: Ed25519 over ``{"at","hash","key_id","seq"}`` (sorted keys, no spaces)."""

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    @classmethod
    def of(cls, c: Checkpoint) -> CheckpointResponse:
        return cls(seq=c.seq, hash=c.hash, at=c.at, key_id=c.key_id, signature=c.signature)


class ChainResponse(BaseModel):
    first_seq: int = Field(description="Where the chain starts (after retention, past the pruned records).")
    start_hash: str = Field(description="The predecessor hash of `first_seq` (64 zeros for a chain from 1).")
    head_seq: int = Field(description="The chain's current end.")
    records: list[ChainRecordResponse]
    checkpoints: list[CheckpointResponse] = Field(
        description="The checkpoints signing these records; the first slice also has the one at `first_seq - 1`."
    )
    next_after: int | None = Field(description="Pass as `after` for the next slice; null once at the head.")

    @classmethod
    def of(cls, got: ChainSlice, limit: int) -> ChainResponse:
        last = got.records[-1].seq if got.records else None
        more = last is not None and last < got.head_seq and len(got.records) >= limit
        return cls(
            first_seq=got.first_seq,
            start_hash=got.start_hash,
            head_seq=got.head_seq,
            records=[ChainRecordResponse.of(r) for r in got.records],
            checkpoints=[CheckpointResponse.of(c) for c in got.checkpoints],
            next_after=last if more else None,
        )


class ChainEndResponse(BaseModel):
    """Where an export of the chain starts and ends, signed with the audit key: an export's end line."""

    first_seq: int = Field(description="Where the chain starts (after retention, past the pruned records).")
    start_hash: str = Field(description="The predecessor hash of `first_seq` (64 zeros for a chain from 1).")
    last_seq: int = Field(description="The export's last record (`first_seq - 1`: none).")
    last_hash: str = Field(description="Its hash (`start_hash` when there is none).")
    at: str = Field(description="When it was signed, UTC, microseconds.")
    key_id: str
    signature: str = Field(
        description='Ed25519, base64url, over `{"at","first_seq","key_id","last_hash","last_seq","start_hash",'
        '"type":"remit.audit.export.end/v2"}` (sorted keys, no spaces).'
    )

    @classmethod
    def of(cls, end: ExportEnd) -> ChainEndResponse:
        return cls(
            first_seq=end.first_seq,
            start_hash=end.start_hash,
            last_seq=end.last_seq,
            last_hash=end.last_hash,
            at=end.at,
            key_id=end.key_id,
            signature=end.signature,
        )


class PublicKeyResponse(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    pem: str
