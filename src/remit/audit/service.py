"""Audit use cases: the chain appender behind the log, reading the log (scoped by role), following it, reading the
chain back for export, verifying the chain, retention.

The storage is ``remit.store.audit.AuditStore``; this module only sees it through ``AuditStorePort``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import Any, Protocol

from remit.admin.access import Act, AdminPrincipal, AdminRole, authorize
from remit.audit.chain import GENESIS, Checkpoint, Report, StoredRecord, span, verify
from remit.audit.export import ExportEnd, end_payload
from remit.audit.record import Json, index_columns, timestamp
from remit.audit.signing import PublicKey, SigningKey
from remit.clock import Clock
from remit.errors import BadRequest, Conflict, Forbidden
from remit.paging import Page, PageRequest


class AuditStorePort(Protocol):
    def append(self, bodies: Sequence[Json], *, checkpoint: Any = None) -> list[tuple[int, str]]: ...

    def checkpoint_now(self, signer: Any, at: str) -> int | None: ...

    def has_ids(self, ids: Sequence[str]) -> set[str]: ...

    def head(self) -> Any: ...

    def query(self, where: Any, page: PageRequest) -> Page[tuple[int, str]]: ...

    def records(self, start: int = 0, batch: int = 2000) -> Iterator[StoredRecord]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def after(self, seq: int, limit: int = 500) -> list[tuple[int, str]]: ...

    def count(self) -> int: ...

    def prune_before(self, at: str, signer: Any) -> int: ...


@dataclass(frozen=True, slots=True)
class TailBatch:
    """What one look at the log's tail found: the matching records (seq, canonical text), oldest first."""

    items: tuple[tuple[int, str], ...]
    last_seq: int  #: the last seq looked at, matching or not: where the next look starts
    more: bool  #: the look stopped at its limit: records after ``last_seq`` may be waiting


@dataclass(frozen=True, slots=True)
class ChainSlice:
    """Stored rows of the chain after some seq, for an export that can be verified offline."""

    first_seq: int  #: where the chain starts (after retention, the seq after the last pruned one)
    start_hash: str  #: the predecessor hash of ``first_seq``
    head_seq: int  #: the chain's current end
    records: tuple[StoredRecord, ...]
    #: the checkpoints signing these records; the first slice also has the one vouching for ``start_hash``
    checkpoints: tuple[Checkpoint, ...]


@dataclass(frozen=True, slots=True)
class _Policy:
    signer: Any
    every: int


class ChainAppender:
    """What ``AuditLog``'s writer calls: append a batch (with checkpoints every ``checkpoint_every`` records),
    replay a spool idempotently, sign the chain's end."""

    def __init__(self, store: AuditStorePort, key: SigningKey, clock: Clock, *, checkpoint_every: int = 1000) -> None:
        self._store = store
        self._key = key
        self._clock = clock
        self._policy = _Policy(self.sign, checkpoint_every)

    def sign(self, payload: bytes) -> tuple[str, str]:
        return self._key.key_id, self._key.sign(payload)

    def append(self, bodies: Sequence[Json]) -> list[tuple[int, str]]:
        return self._store.append(bodies, checkpoint=self._policy)

    def replay(self, bodies: Sequence[Json]) -> int:
        present = self._store.has_ids([str(b["id"]) for b in bodies])
        missing = [b for b in bodies if b["id"] not in present]
        if missing:
            self._store.append(missing, checkpoint=self._policy)
        return len(missing)

    def checkpoint(self) -> int | None:
        return self._store.checkpoint_now(self.sign, timestamp(self._clock.now()))


class AuditService:
    def __init__(self, store: AuditStorePort, key: SigningKey) -> None:
        self._store = store
        self._key = key

    @property
    def public_key(self) -> PublicKey:
        return self._key.public

    @property
    def signing_key(self) -> SigningKey:
        """For the appender and retention (its repr never shows the key material)."""
        return self._key

    def sign(self, payload: bytes) -> tuple[str, str]:
        """A ``Signer``: (key id, signature)."""
        return self._key.key_id, self._key.sign(payload)

    def query(self, p: AdminPrincipal, where: Any, page: PageRequest) -> Page[Json]:
        """Records newest first. Owners see only the records of their own agents."""
        scoped = _scoped(p, where)
        if scoped is None:
            return Page(items=(), next_after=None)
        found = self._store.query(scoped, page)
        return Page(items=tuple(json.loads(text) for _, text in found.items), next_after=found.next_after)

    def tail(self, p: AdminPrincipal, after: int | None, where: Any, limit: int = 500) -> TailBatch:
        """The records after ``after`` that match ``where``, oldest first, looking at ``limit`` records at most (the
        live tail). ``after`` None: the log's current end, so that only records written from now on follow. Owners
        see only the records of their own agents."""
        scoped = _scoped(p, where)
        if after is None:
            return TailBatch(items=(), last_seq=int(self._store.head().seq), more=False)
        rows = self._store.after(after, limit)
        last = rows[-1][0] if rows else after
        if scoped is None:
            return TailBatch(items=(), last_seq=last, more=len(rows) >= limit)
        items = tuple((seq, text) for seq, text in rows if matches(scoped, index_columns(json.loads(text))))
        return TailBatch(items=items, last_seq=last, more=len(rows) >= limit)

    def count(self, p: AdminPrincipal | None) -> int:
        """How many records the log holds (all of them: owners may not ask)."""
        _whole_log(p)
        return self._store.count()

    def chain(self, p: AdminPrincipal | None, after: int, limit: int = 1000) -> ChainSlice:
        """Up to ``limit`` stored rows after seq ``after``, oldest first, with the checkpoints that sign them: what
        an offline-verifiable export holds. The whole log only: refused to owners. ``p`` None: the local operator."""
        _whole_log(p)
        head = self._store.head()
        first_seq, start_hash = int(head.first_seq), str(head.first_prev_hash)
        start = max(after + 1, first_seq)
        records: list[StoredRecord] = []
        for record in self._store.records(start, batch=limit):
            records.append(record)
            if len(records) >= limit:
                break
        low = after if after >= first_seq else first_seq - 2  # the first slice: the checkpoint at first_seq - 1 too
        high = records[-1].seq if records else max(after, first_seq - 1)
        signed = tuple(c for c in self._store.checkpoints() if low < c.seq <= high)
        return ChainSlice(first_seq, start_hash, int(head.seq), tuple(records), signed)

    def sign_end(self, p: AdminPrincipal | None, last_seq: int, at: datetime) -> ExportEnd:
        """Sign where an export of the chain starts (the head row's first position and start hash) and ends (the
        stored record ``last_seq``), for the export's end line. The whole log only: refused to owners.

        The records from the last checkpoint at or before ``last_seq`` up to it must chain (``Conflict``
        otherwise): the end's signature never vouches for records that do not follow a signed point."""
        _whole_log(p)
        head = self._store.head()
        first_seq, start_hash = int(head.first_seq), str(head.first_prev_hash)
        if not first_seq - 1 <= last_seq <= int(head.seq):
            raise BadRequest(
                f"seq must be a position in the chain, from {first_seq - 1} to its end ({head.seq})", field="seq"
            )
        last_hash = self._tail_hash(first_seq, start_hash, last_seq)
        when = timestamp(at)
        payload = end_payload(first_seq, start_hash, last_seq, last_hash, when, self._key.key_id)
        return ExportEnd(first_seq, start_hash, last_seq, last_hash, when, self._key.key_id, self._key.sign(payload))

    def _tail_hash(self, first_seq: int, start_hash: str, last_seq: int) -> str:
        """The hash of record ``last_seq``, once the records since the last checkpoint before it are seen to chain
        from that checkpoint (or from the chain's start)."""
        signed = [c for c in self._store.checkpoints() if first_seq <= c.seq <= last_seq]
        anchor = signed[-1] if signed else None
        begin = anchor.seq if anchor is not None else first_seq
        records = list(takewhile(lambda r: r.seq <= last_seq, self._store.records(begin)))
        if anchor is not None:
            start = records[0].prev_hash if records and records[0].seq == anchor.seq else anchor.hash
            report = verify(records, [anchor], None, index_columns, start_seq=anchor.seq, start_hash=start)
        else:
            report = verify(records, [], None, index_columns, start_seq=first_seq, start_hash=start_hash)
        if report.ok and report.last_seq != last_seq:
            report.fail(report.last_seq + 1, f"record {report.last_seq + 1} is missing: removed from the log")
        if not report.ok:
            raise Conflict(
                f"the audit chain does not verify up to record {last_seq}: {report.problem}; its end is not signed "
                "(run remit audit verify on the server's store)"
            )
        return report.last_hash

    def seal(self, at: datetime) -> int | None:
        """Sign the chain's current end now, if it is not signed yet (before an export, so that its last records
        are covered by a signature). Local operator only. Returns the checkpoint's seq, or None."""
        return self._store.checkpoint_now(self.sign, timestamp(at))

    def prune(self, before: datetime) -> int:
        """Retention: delete the records up to the last checkpoint written before ``before``. Local operator only
        (``remit audit prune``). Returns how many records were deleted."""
        return self._store.prune_before(timestamp(before), self.sign)

    def verify(self, p: AdminPrincipal | None, keys: Sequence[PublicKey] | None = None) -> Report:
        """Verify the stored chain and its checkpoints. ``p`` None: the local operator (CLI on the home)."""
        if p is not None:
            authorize(p, Act.AUDIT_READ)
        return verify_chain(self._store, keys if keys is not None else [self._key.public])


def verify_chain(store: AuditStorePort, keys: Sequence[PublicKey]) -> Report:
    head = store.head()
    checker = _checker(keys)
    checkpoints = store.checkpoints()
    start_seq, start_hash = int(head.first_seq), str(head.first_prev_hash)
    if start_seq > 1:
        # pruned by retention: the chain must start right after a signed checkpoint carrying the start hash
        anchor = next((c for c in checkpoints if c.seq == start_seq - 1), None)
        if anchor is None or anchor.hash != start_hash:
            report = Report(last_seq=start_seq - 1, last_hash=start_hash)
            return report.fail(start_seq, f"the log starts at record {start_seq} without a checkpoint vouching for it")
    report = verify(
        store.records(start_seq),
        checkpoints,
        checker,
        index_columns,
        start_seq=start_seq,
        start_hash=start_hash,
        end_hash=str(head.hash),
    )
    report.expect(int(head.seq), str(head.hash), "the head row")
    if report.ok:
        _compare_with_head(store, report, int(head.seq), str(head.hash))
    if report.ok and report.last_seq > head.checkpoint_seq:
        report.warnings.append(
            f"{span(head.checkpoint_seq + 1, report.last_seq)} after the last checkpoint: "
            "covered by the chain only, not yet by a signature"
        )
    return report


def _compare_with_head(store: AuditStorePort, report: Report, seq: int, hash_: str) -> None:
    """The chain ends where the head row (which every append updates) says: the seq and the hash."""
    says = f"the head row says the chain ends at record {seq} (hash {hash_})"
    last = report.last_seq
    if last < seq:
        gone = f"record {seq} was" if last + 1 == seq else f"records {last + 1} to {seq} were"
        report.fail(last + 1, f"the log ends at record {last}, but {says}: {gone} removed from the end")
    elif last > seq:
        if last == seq + 1:
            what = f"{_named(next(iter(store.records(seq + 1, batch=1)), None), seq + 1)} was"
        else:
            what = f"records {seq + 1} to {last} were"
        report.fail(seq + 1, f"{what} inserted after the end of the chain, around the writer: {says}")
    elif report.last_hash != hash_:
        report.fail(
            seq,
            f"record {seq} does not match the head row: {says}, the record's hash is {report.last_hash} (the record "
            "was replaced and its hash recomputed, or the head row edited)",
        )


def _named(record: StoredRecord | None, seq: int) -> str:
    """``record 13 (id evt_...)``, by what the record's text says (verified by then)."""
    body = json.loads(record.text) if record is not None else None
    record_id = body.get("id") if isinstance(body, dict) else None
    return f"record {seq} (id {record_id})" if isinstance(record_id, str) else f"record {seq}"


def matches(where: Any, columns: Json) -> bool:
    """Whether a record with these index columns (``remit.audit.record.index_columns``) passes ``where`` (an
    ``AuditFilter``), exactly as the store's query would decide."""
    for name in ("agent", "owner", "resource", "action", "kind", "allowed"):
        wanted = getattr(where, name)
        if wanted is not None and columns.get(name) != wanted:
            return False
    at = str(columns.get("at", ""))
    if where.since is not None and at < where.since:
        return False
    return not (where.until is not None and at >= where.until)


def _scoped(p: AdminPrincipal, where: Any) -> Any | None:
    """``where`` as ``p`` may use it: owners only ever see their own agents' records. None: nothing is visible
    (an owner who asked for another owner's records)."""
    authorize(p, Act.AUDIT_READ)
    if p.role is AdminRole.OWNER:
        if p.user_id is None:  # authorize refuses this already; never fall through to "everything"
            raise Forbidden("an owner token without a user may not read the audit log")
        if where.owner is not None and where.owner != p.user_id:
            return None
        return _replace(where, owner=p.user_id)
    return where


def _whole_log(p: AdminPrincipal | None) -> None:
    """Reading the whole log (counts, the chain itself) is for admins and auditors, never owners."""
    if p is None:
        return
    authorize(p, Act.AUDIT_READ)
    if p.role is AdminRole.OWNER:
        raise Forbidden("owners read the records of their own agents (GET /v1/audit), not the whole chain")


def _checker(keys: Sequence[PublicKey]) -> Any:
    by_id = {k.key_id: k for k in keys}

    def check(payload: bytes, signature: str, key_id: str) -> bool:
        key = by_id.get(key_id)
        return key is not None and key.verify(payload, signature, key_id)

    return check if keys else None


def _replace(where: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(where, **changes)


__all__ = ["GENESIS", "AuditService", "ChainAppender", "ChainSlice", "TailBatch", "matches", "verify_chain"]
