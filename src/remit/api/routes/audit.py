"""``/v1/audit``: searching the audit log, following it live (server-sent events), reading the chain for an export
that can be verified offline, and the public key that verifies it.

The stream sends each record as one event, ``id: <seq>`` and ``data: <the record's canonical JSON>``; a client
resumes with ``Last-Event-ID`` (or ``?after=<seq>``). It polls the store every ``POLL_SECONDS``, sends a comment
every ``HEARTBEAT_SECONDS`` while idle (so that proxies keep it open and a client that went away is noticed), checks
the caller's token again while it runs, and ends after ``MAX_STREAM_SECONDS``, when the client reconnects where it
left off: a long-lived stream must not hold a server's graceful shutdown for ever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from remit.admin.access import AdminPrincipal
from remit.api.deps import PageDep, PrincipalDep, RemitDep, authenticate
from remit.api.routes._common import ERRORS, render_page
from remit.api.schemas.audit import (
    AuditRecord,
    ChainEndResponse,
    ChainResponse,
    PublicKeyResponse,
    audit_filter,
)
from remit.api.schemas.common import SOME_LINE, PageResponse, QueryBool
from remit.container import Remit
from remit.errors import BadRequest, RemitError
from remit.explain import rule
from remit.store.audit import AuditFilter

router = APIRouter(tags=["audit"], responses=ERRORS)

POLL_SECONDS = 0.25  #: how often an idle stream looks for new records
HEARTBEAT_SECONDS = 15.0  #: an idle stream sends a comment this often
MAX_STREAM_SECONDS = 60.0  #: a stream ends after this long; the client resumes from its last event id
STREAM_BATCH = 500  #: records looked at per poll
MAX_CHAIN_SLICE = 5000

# These parameters are checked by ``audit_filter`` (a 400 naming the parameter); the patterns document them.
_TEXT_SCHEMA: dict[str, Any] = {"maxLength": 200, "pattern": SOME_LINE}
_Text = Annotated[str | None, Query(json_schema_extra=_TEXT_SCHEMA)]
_Agent = Annotated[
    str | None, Query(description="The agent's name (a decision's principal).", json_schema_extra=_TEXT_SCHEMA)
]
_Owner = Annotated[str | None, Query(description="The agent owner's user id.", json_schema_extra=_TEXT_SCHEMA)]
_Resource = Annotated[
    str | None,
    Query(
        description="`Type::id` as records index it: `Tool::helpdesk.get_ticket`, `agent::bot` (a change's target).",
        json_schema_extra={
            "maxLength": 400,
            "pattern": rule(r"^[A-Za-z_][A-Za-z0-9_]*::.+$", "Type::id, such as Tool::helpdesk.get_ticket"),
        },
    ),
]
_Kind = Annotated[
    str | None,
    Query(description="The record's kind.", json_schema_extra={"enum": ["decision", "change", "token", "grant"]}),
]
_Decision = Annotated[
    str | None,
    Query(description="Only allowed or only denied decisions.", json_schema_extra={"enum": ["allow", "deny"]}),
]
_Time = Annotated[
    str | None,
    Query(
        description="RFC 3339 date-time with a time zone, e.g. `2026-01-01T00:00:00Z`.",
        json_schema_extra={"format": "date-time"},
    ),
]
_After = Annotated[
    str | None,
    Query(
        description="A record's `seq`: start after it.",
        json_schema_extra={"pattern": rule(r"^[0-9]{1,18}$", "a record's seq: 1 to 18 digits")},
    ),
]


def _seq(value: str, field: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{field} must be a record's seq (a non-negative integer)", field=field)
    return int(text)


@router.get(
    "/v1/audit",
    response_model=PageResponse[AuditRecord],
    response_model_by_alias=True,
    response_model_exclude_unset=True,  # members a record does not have stay absent, as stored
)
def search_audit(
    remit: RemitDep,
    p: PrincipalDep,
    page: PageDep,
    agent: _Agent = None,
    owner: _Owner = None,
    resource: _Resource = None,
    action: _Text = None,
    kind: _Kind = None,
    decision: _Decision = None,
    since: _Time = None,
    until: _Time = None,
) -> PageResponse[AuditRecord]:
    """Audit records, newest first: decisions and admin changes as stored, each with its `seq`. `since` is
    inclusive, `until` exclusive. Owners see only the records of their own agents."""
    where = audit_filter(
        agent=agent,
        owner=owner,
        resource=resource,
        action=action,
        kind=kind,
        decision=decision,
        since=since,
        until=until,
    )
    return render_page(remit.audit.query(p, where, page), AuditRecord.model_validate)


@router.get("/v1/audit/chain", response_model=ChainResponse)
def read_chain(
    remit: RemitDep,
    p: PrincipalDep,
    after: _After = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHAIN_SLICE, description="Rows per slice.")] = 1000,
) -> ChainResponse:
    """The stored chain after `after`, oldest first: each row's canonical text and hashes, and the checkpoints
    that sign them. What `remit audit export` writes, to be checked offline by `remit audit verify --file`.
    Admins and auditors only."""
    start = _seq(after, "after") if after is not None else 0
    return ChainResponse.of(remit.audit.chain(p, start, limit), limit)


@router.get("/v1/audit/chain/end", response_model=ChainEndResponse)
def sign_chain_end(
    remit: RemitDep,
    p: PrincipalDep,
    seq: Annotated[
        str,
        Query(
            description="The export's last record (`first_seq - 1` for an export without records).",
            json_schema_extra={"pattern": r"^[0-9]{1,18}$"},
        ),
    ],
) -> ChainEndResponse:
    """Where an export of the chain starts and ends, signed with the audit key: what `remit audit export` writes
    as the file's end line, so that a file cut short (at a checkpoint, its end line rewritten) is refused by
    `remit audit verify --file`. The records since the last checkpoint before `seq` must chain (409 otherwise).
    Admins and auditors only."""
    return ChainEndResponse.of(remit.audit.sign_end(p, _seq(seq, "seq"), remit.clock.now()))


@router.get("/v1/audit/public-key", response_model=PublicKeyResponse)
def public_key(remit: RemitDep, _p: PrincipalDep) -> PublicKeyResponse:
    """The Ed25519 public key that verifies the chain's checkpoints (`remit audit key` prints it too)."""
    key = remit.audit.public_key
    return PublicKeyResponse(key_id=key.key_id, pem=key.pem())


# Not in the OpenAPI document: a stream that never ends is not something a schema-driven client can call.
@router.get("/v1/audit/stream", include_in_schema=False)
async def stream_audit(
    request: Request,
    remit: RemitDep,
    p: PrincipalDep,
    agent: _Agent = None,
    owner: _Owner = None,
    resource: _Resource = None,
    action: _Text = None,
    kind: _Kind = None,
    decision: _Decision = None,
    since: _Time = None,
    until: _Time = None,
    after: _After = None,
    follow: Annotated[QueryBool, Query(description="`false`: end once caught up with the log.")] = True,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """A live tail of the log as server-sent events (``text/event-stream``): records after ``Last-Event-ID`` (or
    ``after``; neither: from now on) that match the filters, oldest first."""
    where = audit_filter(
        agent=agent,
        owner=owner,
        resource=resource,
        action=action,
        kind=kind,
        decision=decision,
        since=since,
        until=until,
    )
    if last_event_id is not None and last_event_id.strip():
        start: int | None = _seq(last_event_id, "Last-Event-ID")
    elif after is not None:
        start = _seq(after, "after")
    else:
        start = None
    # Authorize (and find the log's end) before the response starts: a refusal is a plain JSON error.
    first = await run_in_threadpool(remit.audit.tail, p, start, where, 1)
    if start is None:
        start = first.last_seq
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    events = _events(remit, request.headers.get("authorization"), p, where, start, follow)
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _events(
    remit: Remit, authorization: str | None, p: AdminPrincipal, where: AuditFilter, after: int, follow: bool
) -> AsyncIterator[str]:
    """The stream's body. Starlette cancels it when the client disconnects (ASGI ``http.disconnect``).

    Besides the records, id-only events (which a client does not dispatch, but whose id it keeps) carry the last
    seq looked at, matching or not: a client that reconnects with ``Last-Event-ID`` neither misses a record written
    between two streams nor looks again at the ones its filters skipped."""
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    yield f"retry: 1000\nid: {after}\n\n"
    try:
        while True:
            batch = await run_in_threadpool(remit.audit.tail, p, after, where, STREAM_BATCH)
            after = batch.last_seq
            if batch.items:
                yield "".join(f"id: {seq}\ndata: {text}\n\n" for seq, text in batch.items)
                last_sent = loop.time()
            if batch.more:
                continue
            now = loop.time()
            if not follow or now - started >= MAX_STREAM_SECONDS:
                yield f"id: {after}\n\n"
                return
            if now - last_sent >= HEARTBEAT_SECONDS:
                # the token is checked again while the stream runs: a revoked one ends it at the next beat
                p = await authenticate(remit, authorization)
                yield f": keep-alive\nid: {after}\n\n"
                last_sent = now
            await asyncio.sleep(POLL_SECONDS)
    except RemitError as exc:  # the store went away, the token was revoked: say so, then end
        body = {"code": exc.code, "message": exc.message, "field": exc.field}
        yield f"event: error\ndata: {json.dumps(body)}\n\n"
