"""The audit export file (``remit.audit.export/v1``): the stored chain as JSON lines, verifiable offline with only
Remit's public key.

One JSON object per line, each with a ``type``::

    {"type":"header","format":"remit.audit.export/v1","record_schema":"remit.audit/v1","exported_at":"...",
     "first_seq":1,"start_hash":"000...0"}
    {"type":"checkpoint","seq":0,...}             the one vouching for start_hash, when the log was pruned
    {"type":"record","seq":1,"text":"{...}","prev_hash":"000...0","hash":"..."}
    {"type":"checkpoint","seq":1000,"hash":"...","at":"...","key_id":"...","signature":"..."}
    ...
    {"type":"end","records":1234,"checkpoints":2,"last_seq":1234,"last_hash":"..."}

``text`` is each record's canonical JSON exactly as stored and hashed, so that verification re-hashes the same
bytes; a checkpoint follows the record it signs. The ``end`` line says how many lines came before it: a file cut
short at a line boundary is caught by its absence. ``verify_export`` reads the file twice (structure, then the
chain), in constant memory but for the checkpoints, and reports a malformed line by its number
(``ExportFileError``), never by a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remit.audit.chain import GENESIS, Checkpoint, Report, SignatureCheck, StoredRecord, verify
from remit.audit.record import AUDIT_SCHEMA
from remit.errors import ValidationError

if TYPE_CHECKING:  # the key code brings ``cryptography``; the file format does not need it
    from remit.audit.signing import PublicKey

EXPORT_FORMAT = "remit.audit.export/v1"

_HEX64 = frozenset("0123456789abcdef")


class ExportFileError(ValidationError):
    """The file is not a well-formed export: the message names the line."""

    code = "invalid_export_file"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


def keys_checker(keys: Sequence[PublicKey]) -> SignatureCheck | None:
    """Checks a checkpoint's signature with whichever of ``keys`` has its key id; None without keys."""
    by_id = {k.key_id: k for k in keys}

    def check(payload: bytes, signature: str, key_id: str) -> bool:
        key = by_id.get(key_id)
        return key is not None and key.verify(payload, signature, key_id)

    return check if by_id else None


# -- writing -----------------------------------------------------------------------------------------------------


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


def header_line(first_seq: int, start_hash: str, exported_at: str) -> str:
    return _line(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "record_schema": AUDIT_SCHEMA,
            "exported_at": exported_at,
            "first_seq": first_seq,
            "start_hash": start_hash,
        }
    )


def record_line(record: StoredRecord) -> str:
    return _line(
        {"type": "record", "seq": record.seq, "text": record.text, "prev_hash": record.prev_hash, "hash": record.hash}
    )


def checkpoint_line(cp: Checkpoint) -> str:
    return _line(
        {
            "type": "checkpoint",
            "seq": cp.seq,
            "hash": cp.hash,
            "at": cp.at,
            "key_id": cp.key_id,
            "signature": cp.signature,
        }
    )


def end_line(records: int, checkpoints: int, last_seq: int, last_hash: str) -> str:
    return _line(
        {"type": "end", "records": records, "checkpoints": checkpoints, "last_seq": last_seq, "last_hash": last_hash}
    )


# -- reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    first_seq: int
    start_hash: str


@dataclass(frozen=True, slots=True)
class _End:
    line: int
    records: int
    checkpoints: int
    last_seq: int
    last_hash: str


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every line; ``ExportFileError`` for one that is not a JSON object."""
    with path.open("rb") as f:
        number = 0
        for number, raw in enumerate(f, start=1):
            complete = raw.endswith(b"\n")
            try:
                data = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ExportFileError("not UTF-8 text: the file is corrupted", number) from exc
            except json.JSONDecodeError as exc:
                if not complete:
                    raise ExportFileError("the last line is incomplete: the file is truncated", number) from exc
                raise ExportFileError(f"not valid JSON ({exc.msg} at column {exc.colno})", number) from exc
            except RecursionError as exc:
                raise ExportFileError("JSON nested too deeply", number) from exc
            if not isinstance(data, dict):
                raise ExportFileError("not a JSON object", number)
            yield number, data
        if number == 0:
            raise ExportFileError("the file is empty: not a Remit audit export")


def _int(data: dict[str, Any], name: str, line: int, *, low: int = 0) -> int:
    value = data.get(name)
    if name not in data:
        raise ExportFileError(f"{data.get('type')} line without {name}", line)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ExportFileError(f"{name} must be an integer of at least {low}", line)
    return value


def _str(data: dict[str, Any], name: str, line: int) -> str:
    if name not in data:
        raise ExportFileError(f"{data.get('type')} line without {name}", line)
    value = data[name]
    if not isinstance(value, str):
        raise ExportFileError(f"{name} must be a string", line)
    return value


def _hash(data: dict[str, Any], name: str, line: int) -> str:
    value = _str(data, name, line)
    if len(value) != 64 or not set(value) <= _HEX64:
        raise ExportFileError(f"{name} must be a SHA-256 hash (64 lowercase hex digits)", line)
    return value


def _header(number: int, data: dict[str, Any]) -> _Header:
    if data.get("type") != "header" or data.get("format") != EXPORT_FORMAT:
        raise ExportFileError(
            f"not a Remit audit export: the first line must be a {EXPORT_FORMAT} header "
            "(an --format ocsf export is for SIEMs and cannot be verified)",
            number,
        )
    return _Header(_int(data, "first_seq", number, low=1), _hash(data, "start_hash", number))


def _record(number: int, data: dict[str, Any]) -> StoredRecord:
    return StoredRecord(
        seq=_int(data, "seq", number, low=1),
        text=_str(data, "text", number),
        prev_hash=_hash(data, "prev_hash", number),
        hash=_hash(data, "hash", number),
    )


def _checkpoint(number: int, data: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        seq=_int(data, "seq", number),
        hash=_hash(data, "hash", number),
        at=_str(data, "at", number),
        key_id=_str(data, "key_id", number),
        signature=_str(data, "signature", number),
    )


@dataclass(frozen=True, slots=True)
class _Structure:
    header: _Header
    checkpoints: list[Checkpoint]
    end: _End
    records: int


def _structure(path: Path) -> _Structure:
    """The first pass: every line well-formed, the header first and the end line last; the checkpoints."""
    header: _Header | None = None
    end: _End | None = None
    checkpoints: list[Checkpoint] = []
    records = 0
    last = 0
    for number, data in _lines(path):
        last = number
        kind = data.get("type")
        if header is None:
            header = _header(number, data)
            continue
        if end is not None:
            raise ExportFileError(f"a line after the end line (line {end.line})", number)
        if kind == "record":
            _record(number, data)
            records += 1
        elif kind == "checkpoint":
            checkpoints.append(_checkpoint(number, data))
        elif kind == "end":
            end = _End(
                number,
                _int(data, "records", number),
                _int(data, "checkpoints", number),
                _int(data, "last_seq", number),
                _hash(data, "last_hash", number),
            )
        elif kind == "header":
            raise ExportFileError("a second header: two exports were joined", number)
        else:
            raise ExportFileError(f"unknown line type {str(kind)[:40]!r}", number)
    assert header is not None  # _lines raises for an empty file
    if end is None:
        raise ExportFileError(f"the file ends without its end line, after {records} records: it is truncated", last)
    return _Structure(header, checkpoints, end, records)


@dataclass(slots=True)
class _Position:
    line: int = 0


def _records(path: Path, at: _Position) -> Iterator[StoredRecord]:
    """The second pass: the records, noting the line of the one being looked at."""
    for number, data in _lines(path):
        if data.get("type") == "record":
            at.line = number
            yield _record(number, data)


def verify_export(path: Path, check_signature: SignatureCheck | None) -> Report:
    """Verify an export file: its structure (``ExportFileError`` naming the line), then the chain in it and its
    checkpoints (the report names the first problem's seq, and the line it was found at)."""
    found = _structure(path)
    header, checkpoints, end = found.header, found.checkpoints, found.end
    if header.first_seq > 1:
        # pruned by retention: the export must start right after a checkpoint carrying the start hash
        anchor = next((c for c in checkpoints if c.seq == header.first_seq - 1), None)
        if anchor is None or anchor.hash != header.start_hash:
            return Report(last_seq=header.first_seq - 1, last_hash=header.start_hash).fail(
                header.first_seq, f"the export starts at record {header.first_seq} without a checkpoint vouching for it"
            )
    elif header.start_hash != GENESIS:
        return Report().fail(1, "the export starts at record 1 but not from the genesis hash")
    at = _Position()
    report = verify(
        _records(path, at), checkpoints, check_signature, start_seq=header.first_seq, start_hash=header.start_hash
    )
    if not report.ok:
        if at.line and report.problem is not None and "not in the log" not in report.problem:
            report.problem = f"{report.problem} (line {at.line})"
        return report
    if end.records != found.records or end.checkpoints != len(checkpoints):
        return report.fail(
            None,
            f"the end line (line {end.line}) counts {end.records} records and {end.checkpoints} checkpoints, the "
            f"file holds {found.records} and {len(checkpoints)}: lines were removed or added",
        )
    if report.last_seq != end.last_seq or report.last_hash != end.last_hash:
        return report.fail(
            report.last_seq + 1,
            f"the end line (line {end.line}) says the export ends at record {end.last_seq}, the chain in it ends "
            f"at record {report.last_seq}: records were removed from the end",
        )
    signed = max((c.seq for c in checkpoints), default=0)
    if report.records and report.last_seq > signed:
        report.warnings.append(
            f"records {max(signed + 1, header.first_seq)} to {report.last_seq} are after the last checkpoint: "
            "covered by the chain only, not by a signature"
        )
    return report
