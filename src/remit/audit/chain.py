"""The hash chain and its verification. Pure: records in, a report out.

Each stored record carries ``seq`` (1, 2, 3, ... with no gaps), its canonical JSON text (``remit.audit.record``,
with ``seq`` inside it), the hash of its predecessor and its own hash::

    hash(n) = SHA-256( hash(n-1) as hex  ||  "\\n"  ||  text(n) as UTF-8 )      hash(0) = "0" * 64

A checkpoint, written every so many records, signs ``{"seq", "hash", "at", "key_id"}`` with Remit's audit key
(Ed25519), so that a chain rewritten from some point on (every hash recomputed) is still caught at the next
checkpoint: an attacker would need the private key.

``verify`` walks the records in ``seq`` order and names the first problem: an altered record (its hash does not
match its text), a removed one (a gap in ``seq``, or a record whose predecessor hash is not the hash before it),
an inserted one, records out of order, columns that disagree with the text, or a checkpoint that does not match
or whose signature fails.

Where the walk first stumbles is not always where the damage is: a well-formed record inserted at 5 (hashed onto
record 4, the later records renumbered) verifies itself, and it is record 6 whose predecessor hash is wrong. So at
the first problem, ``verify`` looks at what it verified last (``RECENT`` records) and reads a little ahead
(``AHEAD`` records), and names the damage from what the hashed contents say: each record's text holds the
position it was written at (``seq``) and its hash covers the hash of the record it was written after. A record
that the rest of the chain skips (the next record follows the one before it) was inserted; a record written
after one stored later is out of order; a record whose text says it was written at 9 but is stored at 7, after
record 6, tells that records 7 and 8 were removed and the rest renumbered; a record written after another
record 6 than the stored one tells that record 6 was replaced, its hash recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

GENESIS = "0" * 64

#: verified records remembered, to name records inserted before the one where the walk stumbles
RECENT = 256
#: records read ahead of a problem, to tell which records the rest of the chain follows
AHEAD = 256


def link(prev_hash: str, text: str) -> str:
    """The hash of a record whose canonical text is ``text`` and whose predecessor's hash is ``prev_hash``."""
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def checkpoint_payload(seq: int, hash_: str, at: str, key_id: str) -> bytes:
    """The bytes a checkpoint signs."""
    document = {"at": at, "hash": hash_, "key_id": key_id, "seq": seq}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row as stored: what verification reads, from the database or from an export file."""

    seq: int
    text: str
    prev_hash: str
    hash: str
    #: the indexed columns kept beside the text, to check that they agree with it (None: not available)
    columns: dict[str, Any] | None = None
    #: where it was read from (an export file's line), for the report; None from the database
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str  #: base64url, no padding


@dataclass(slots=True)
class Report:
    """The outcome of a verification: ``ok``, or the first problem with the ``seq`` it was found at."""

    records: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problem: str | None = None
    at_seq: int | None = None
    #: the line of the record the problem names (or, for a missing one, of the record found in its place)
    at_line: int | None = None
    warnings: list[str] = field(default_factory=list)
    #: where the chain should end, as the store's head row or an export's end line says
    expected_seq: int | None = None
    expected_hash: str | None = None
    expected_from: str | None = None
    #: an export's end line: when it was signed, once its signature verified
    end_signed_at: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, seq: int | None, problem: str, line: int | None = None) -> Report:
        if self.problem is None:
            self.problem = problem
            self.at_seq = seq
            self.at_line = line
        return self

    def expect(self, seq: int, hash_: str, source: str) -> None:
        self.expected_seq, self.expected_hash, self.expected_from = seq, hash_, source


#: checks a checkpoint's signature: (payload, signature, key_id) -> valid
SignatureCheck = Callable[[bytes, str, str], bool]
#: derives the indexed columns from a record's parsed text, to compare with the stored ones
ColumnsOf = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Seen:
    """A verified record (or the chain's start), remembered for naming what follows."""

    seq: int
    hash: str
    id: str | None
    line: int | None
    start: bool = False


def verify(
    records: Iterable[StoredRecord],
    checkpoints: Iterable[Checkpoint],
    check_signature: SignatureCheck | None,
    columns_of: ColumnsOf | None = None,
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS,
    end_hash: str | None = None,
) -> Report:
    """Walk the chain from ``start_seq`` (whose predecessor hash is ``start_hash``) and stop at the first problem.

    ``check_signature`` None skips signatures (and says so in the report's warnings); records after the last
    checkpoint are covered by the chain only, which the report also says. ``end_hash`` is the hash the chain
    should end with (the head row's, an end line's), used only to tell which records the chain continues with
    when naming a problem; comparing the chain's end with it is the caller's part.
    """
    report = Report(last_seq=start_seq - 1, last_hash=start_hash)
    by_seq: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        by_seq[cp.seq] = cp
    anchors = {cp.hash for cp in by_seq.values()} | ({end_hash} if end_hash is not None else set())
    if check_signature is None:
        report.warnings.append("checkpoint signatures not checked: no public key given")
    recent: deque[_Seen] = deque([_Seen(start_seq - 1, start_hash, None, None, start=True)], maxlen=RECENT)
    expected_seq = start_seq
    prev_hash = start_hash
    stream = iter(records)
    for record in stream:
        if record.seq < expected_seq:
            return report.fail(
                record.seq, f"record {record.seq} appears twice or out of order: an inserted record", record.line
            )
        if record.seq > expected_seq:
            late = next((r for r in islice(stream, AHEAD) if r.seq == expected_seq), None)
            if late is not None:  # in a file: lines out of order
                return report.fail(
                    expected_seq,
                    f"{_name(late.seq, _id_of(_written(late)))} is out of order: it is stored after record "
                    f"{record.seq}",
                    late.line,
                )
            missing = (
                f"record {expected_seq} is missing"
                if record.seq == expected_seq + 1
                else f"records {expected_seq} to {record.seq - 1} are missing"
            )
            return report.fail(expected_seq, f"{missing}: removed from the log", record.line)
        problem, body = _check_one(record, prev_hash, columns_of)
        checkpoint = by_seq.pop(record.seq, None)
        if problem is None and checkpoint is not None:
            problem = _checkpoint_mismatch(checkpoint, record)
            if problem is None:
                invalid = _invalid_signature(checkpoint, check_signature)
                if invalid is not None:
                    return report.fail(record.seq, invalid, record.line)
                report.checkpoints += 1
        if problem is not None:
            named = _diagnose(record, list(islice(stream, AHEAD)), recent, anchors)
            if named is None:
                return report.fail(record.seq, problem, record.line)
            _rewind(report, recent, named.seq)
            return report.fail(named.seq, named.problem, named.line)
        recent.append(_Seen(record.seq, record.hash, _id_of(body), record.line))
        prev_hash = record.hash
        expected_seq += 1
        report.records += 1
        report.last_seq = record.seq
        report.last_hash = record.hash
    beyond = sorted(seq for seq in by_seq if seq >= start_seq)
    if beyond:
        first = beyond[0]
        return report.fail(
            report.last_seq + 1,
            f"checkpoint {first} signs a record that is not in the log: records after {report.last_seq} were removed",
        )
    return report


def _check_one(
    record: StoredRecord, prev_hash: str, columns_of: ColumnsOf | None
) -> tuple[str | None, dict[str, Any] | None]:
    """The record's first problem (None: none) and its parsed text (None: not a JSON object)."""
    if record.prev_hash != prev_hash:
        return (
            f"record {record.seq} does not follow record {record.seq - 1}: its predecessor hash differs "
            "(a record was inserted or removed before it)"
        ), None
    if link(prev_hash, record.text) != record.hash:
        return f"record {record.seq} was altered: its content does not match its hash", None
    try:
        body = json.loads(record.text)
    except ValueError:
        return f"record {record.seq} is not valid JSON", None
    except RecursionError:  # a hostile export's text, hashed as it is
        return f"record {record.seq} is not a record: its JSON is nested too deeply", None
    if not isinstance(body, dict) or body.get("seq") != record.seq:
        return f"record {record.seq} carries another position in its content: it was moved", None
    if columns_of is not None and record.columns is not None:
        derived = columns_of(body)
        for name, value in derived.items():
            if name in record.columns and record.columns[name] != value:
                return f"record {record.seq} was altered: column {name} disagrees with the hashed content", body
    return None, body


def _checkpoint_mismatch(cp: Checkpoint, record: StoredRecord) -> str | None:
    if cp.hash != record.hash:
        return (
            f"checkpoint {cp.seq} does not match record {cp.seq}: the log was rewritten up to it "
            "(a record at or before it altered, the hashes recomputed)"
        )
    return None


def _invalid_signature(cp: Checkpoint, check_signature: SignatureCheck | None) -> str | None:
    if check_signature is not None and not check_signature(
        checkpoint_payload(cp.seq, cp.hash, cp.at, cp.key_id), cp.signature, cp.key_id
    ):
        return f"checkpoint {cp.seq} has an invalid signature (key {cp.key_id})"
    return None


# -- naming the damage ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Named:
    seq: int
    problem: str
    line: int | None


def _id_of(body: dict[str, Any] | None) -> str | None:
    value = body.get("id") if body is not None else None
    return value if isinstance(value, str) else None


def _written(record: StoredRecord) -> dict[str, Any] | None:
    """The record's parsed text if the record is sound in itself (its hash covers its text and its stored
    predecessor hash, its text an object with a position): what it says about itself can then be believed."""
    if link(record.prev_hash, record.text) != record.hash:
        return None
    try:
        body = json.loads(record.text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return body


def span(first: int, last: int) -> str:
    """``record 7 is`` or ``records 7 to 9 are``."""
    return f"record {first} is" if first == last else f"records {first} to {last} are"


def _name(seq: int, record_id: str | None) -> str:
    return f"record {seq} (id {record_id})" if record_id else f"record {seq}"


def _what(seen: _Seen) -> str:
    return "the start of the log" if seen.start else f"record {seen.seq}"


def _diagnose(
    record: StoredRecord, ahead: Sequence[StoredRecord], recent: deque[_Seen], anchors: set[str]
) -> _Named | None:
    """Name the damage where the walk stumbled at ``record``, from the records verified before it (``recent``,
    the last one is the record before it, or the start) and those stored after it (``ahead``). None: nothing more
    precise than the walk's own message can be said."""
    last = recent[-1]
    body = _written(record)
    if body is None:
        if record.prev_hash != last.hash:
            if link(last.hash, record.text) == record.hash:
                return _Named(
                    record.seq,
                    f"record {record.seq} was altered: its stored predecessor hash was changed (its content matches "
                    f"its hash after {_what(last)})",
                    record.line,
                )
            return _Named(
                record.seq, f"record {record.seq} was altered: its content does not match its hash", record.line
            )
        return None
    this = _name(record.seq, _id_of(body))
    following = ahead[0] if ahead else None
    # the next stored record is written right after the last verified one: this one is not part of the chain
    skipped = following is not None and following.prev_hash == last.hash and _written(following) is not None
    seen = {s.hash: s for s in recent}
    twin = seen.get(record.hash)
    if twin is not None and twin is not last:
        return _Named(
            record.seq,
            f"{this} is a copy of record {twin.seq}: the same record appears twice (it was inserted)",
            record.line,
        )
    if record.prev_hash == last.hash:
        if skipped:
            assert following is not None
            return _Named(record.seq, f"{this} was inserted: record {following.seq} follows {_what(last)}", record.line)
        return None
    later = {r.hash: r for r in ahead}
    before = later.get(record.prev_hash)
    if before is not None:
        return _Named(
            record.seq,
            f"{this} is out of order: it was written after {_name(before.seq, _id_of(_written(before)))}, which is "
            "stored after it: the log was reordered",
            record.line,
        )
    if skipped:
        assert following is not None
        return _Named(record.seq, f"{this} was inserted: record {following.seq} follows {_what(last)}", record.line)
    origin = seen.get(record.prev_hash)
    if origin is not None:
        # written right after an earlier record: the ones stored between were put there, unless a checkpoint
        # signs one of them (then this one is the stranger)
        foreign = [s for s in recent if s.seq > origin.seq]
        if any(s.hash in anchors for s in foreign):
            return _Named(
                record.seq,
                f"{this} was inserted: it follows {_what(origin)}, as record {origin.seq + 1} does",
                record.line,
            )
        if len(foreign) == 1:
            what = f"{_name(foreign[0].seq, foreign[0].id)} was inserted"
        else:
            ids = ", ".join(s.id or "?" for s in foreign)
            what = f"records {foreign[0].seq} to {foreign[-1].seq} (ids {ids}) were inserted"
        return _Named(foreign[0].seq, f"{what}: record {record.seq} follows {_what(origin)}", foreign[0].line)
    continued = (following is not None and following.prev_hash == record.hash) or record.hash in anchors
    if not continued:
        return None
    written_at = int(body["seq"])
    if written_at > record.seq:
        gone = (
            f"record {record.seq} is missing"
            if written_at == record.seq + 1
            else f"records {record.seq} to {written_at - 1} are missing"
        )
        them = "it" if written_at == record.seq + 1 else "them"
        return _Named(
            record.seq,
            f"{gone}: removed from the log, and the records after {them} renumbered (record {written_at} is "
            f"stored as {record.seq})",
            record.line,
        )
    if written_at == record.seq and not last.start and last.hash not in anchors:
        return _Named(
            last.seq,
            f"{_name(last.seq, last.id)} was altered and its hash recomputed: record {record.seq} was written after "
            f"another record {last.seq}",
            last.line,
        )
    return None


def _rewind(report: Report, recent: deque[_Seen], seq: int) -> None:
    """The report counts only the records before ``seq`` as verified (a record named after the walk took it)."""
    for seen in recent:
        if seen.seq == seq - 1 and report.last_seq >= seq:
            report.records -= report.last_seq - seen.seq
            report.last_seq, report.last_hash = seen.seq, seen.hash
            return
