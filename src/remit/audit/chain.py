"""The hash chain and its verification. Pure: records in, a report out.

Each stored record carries ``seq`` (1, 2, 3, ... with no gaps), its canonical JSON text (``remit.audit.record``,
with ``seq`` inside it), the hash of its predecessor and its own hash::

    hash(n) = SHA-256( hash(n-1) as hex  ||  "\\n"  ||  text(n) as UTF-8 )      hash(0) = "0" * 64

A checkpoint, written every so many records, signs ``{"seq", "hash", "at", "key_id"}`` with Remit's audit key
(Ed25519), so that a chain rewritten from some point on (every hash recomputed) is still caught at the next
checkpoint: an attacker would need the private key.

``verify`` walks the records in ``seq`` order and names the first problem: an altered record (its hash does not
match its text), a removed one (a gap in ``seq``, or a record whose predecessor hash is not the hash before it),
an inserted one (the same), columns that disagree with the text, or a checkpoint that does not match or whose
signature fails.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64


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
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, seq: int | None, problem: str) -> Report:
        if self.problem is None:
            self.problem = problem
            self.at_seq = seq
        return self


#: checks a checkpoint's signature: (payload, signature, key_id) -> valid
SignatureCheck = Callable[[bytes, str, str], bool]
#: derives the indexed columns from a record's parsed text, to compare with the stored ones
ColumnsOf = Callable[[dict[str, Any]], dict[str, Any]]


def verify(
    records: Iterable[StoredRecord],
    checkpoints: Iterable[Checkpoint],
    check_signature: SignatureCheck | None,
    columns_of: ColumnsOf | None = None,
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS,
) -> Report:
    """Walk the chain from ``start_seq`` (whose predecessor hash is ``start_hash``) and stop at the first problem.

    ``check_signature`` None skips signatures (and says so in the report's warnings); records after the last
    checkpoint are covered by the chain only, which the report also says.
    """
    report = Report(last_seq=start_seq - 1, last_hash=start_hash)
    by_seq: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        by_seq[cp.seq] = cp
    if check_signature is None:
        report.warnings.append("checkpoint signatures not checked: no public key given")
    expected_seq = start_seq
    prev_hash = start_hash
    for record in records:
        if record.seq < expected_seq:
            return report.fail(record.seq, f"record {record.seq} appears twice or out of order: an inserted record")
        if record.seq > expected_seq:
            missing = (
                f"record {expected_seq} is missing"
                if record.seq == expected_seq + 1
                else f"records {expected_seq} to {record.seq - 1} are missing"
            )
            return report.fail(expected_seq, f"{missing}: removed from the log")
        problem = _check_one(record, prev_hash, columns_of)
        if problem is not None:
            return report.fail(record.seq, problem)
        checkpoint = by_seq.pop(record.seq, None)
        if checkpoint is not None:
            problem = _check_checkpoint(checkpoint, record, check_signature)
            if problem is not None:
                return report.fail(record.seq, problem)
            report.checkpoints += 1
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


def _check_one(record: StoredRecord, prev_hash: str, columns_of: ColumnsOf | None) -> str | None:
    if record.prev_hash != prev_hash:
        return (
            f"record {record.seq} does not follow record {record.seq - 1}: its predecessor hash differs "
            "(a record was inserted or removed before it)"
        )
    if link(prev_hash, record.text) != record.hash:
        return f"record {record.seq} was altered: its content does not match its hash"
    try:
        body = json.loads(record.text)
    except ValueError:
        return f"record {record.seq} is not valid JSON"
    if not isinstance(body, dict) or body.get("seq") != record.seq:
        return f"record {record.seq} carries another position in its content: it was moved"
    if columns_of is not None and record.columns is not None:
        derived = columns_of(body)
        for name, value in derived.items():
            if name in record.columns and record.columns[name] != value:
                return f"record {record.seq} was altered: column {name} disagrees with the hashed content"
    return None


def _check_checkpoint(cp: Checkpoint, record: StoredRecord, check_signature: SignatureCheck | None) -> str | None:
    if cp.hash != record.hash:
        return (
            f"checkpoint {cp.seq} does not match record {cp.seq}: the log was rewritten before it "
            "(hashes recomputed after an edit)"
        )
    if check_signature is not None and not check_signature(
        checkpoint_payload(cp.seq, cp.hash, cp.at, cp.key_id), cp.signature, cp.key_id
    ):
        return f"checkpoint {cp.seq} has an invalid signature (key {cp.key_id})"
    return None
