"""The audit export file (``remit.audit.export/v2``): the stored chain as JSON lines, verifiable offline with only
Remit's public key.

One JSON object per line, each with a ``type``::

    {"type":"header","format":"remit.audit.export/v2","record_schema":"remit.audit/v1","exported_at":"...",
     "first_seq":1,"start_hash":"000...0"}
    {"type":"checkpoint","seq":0,...}             the one vouching for start_hash, when the log was pruned
    {"type":"record","seq":1,"text":"{...}","prev_hash":"000...0","hash":"..."}
    {"type":"checkpoint","seq":1000,"hash":"...","at":"...","key_id":"...","signature":"..."}
    ...
    {"type":"end","records":1234,"checkpoints":2,"last_seq":1234,"last_hash":"...","first_seq":1,
     "start_hash":"000...0","at":"...","key_id":"...","signature":"..."}

``text`` is each record's canonical JSON exactly as stored and hashed, so that verification re-hashes the same
bytes; a checkpoint follows the record it signs. The ``end`` line says how many lines came before it (a file cut
short at a line boundary is caught by its absence), and Remit signs where the export starts and ends
(``end_payload``), with the audit key, when it is made: a file cut at an earlier checkpoint, or cut at its start,
with its header or end line rewritten to match, is refused, since the key's holder alone can sign another end.

Files of the first format, ``remit.audit.export/v1``, have an end line without a signature: ``verify_export``
refuses them unless asked to accept an unsigned end (``allow_unsigned_end``), and then says in the report what
such a file cannot show.

``verify_export`` reads the file twice (structure, then the chain), in constant memory but for the checkpoints,
and reports a malformed line by its number (``ExportFileError``), never by a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remit.audit.chain import GENESIS, Checkpoint, Report, SignatureCheck, StoredRecord, span, verify
from remit.audit.record import AUDIT_SCHEMA
from remit.errors import ValidationError

if TYPE_CHECKING:  # the key code brings ``cryptography``; the file format does not need it
    from remit.audit.signing import PublicKey

EXPORT_FORMAT = "remit.audit.export/v2"
#: the first format: its end line is not signed
LEGACY_FORMAT = "remit.audit.export/v1"
#: what a signed end line's payload says it is (never a checkpoint's payload, whose members differ)
END_TYPE = "remit.audit.export.end/v2"

_HEX64 = frozenset("0123456789abcdef")


class ExportFileError(ValidationError):
    """The file is not a well-formed export: the message names the line."""

    code = "invalid_export_file"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True, slots=True)
class ExportEnd:
    """Where an export starts and ends, signed by Remit's audit key when the export is made."""

    first_seq: int
    start_hash: str
    last_seq: int  #: ``first_seq - 1`` for an export without records
    last_hash: str
    at: str
    key_id: str
    signature: str  #: base64url, no padding, over ``end_payload``


def end_payload(first_seq: int, start_hash: str, last_seq: int, last_hash: str, at: str, key_id: str) -> bytes:
    """The bytes an export's end line signs."""
    document = {
        "type": END_TYPE,
        "first_seq": first_seq,
        "start_hash": start_hash,
        "last_seq": last_seq,
        "last_hash": last_hash,
        "at": at,
        "key_id": key_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


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


def end_line(records: int, checkpoints: int, end: ExportEnd) -> str:
    return _line(
        {
            "type": "end",
            "records": records,
            "checkpoints": checkpoints,
            "last_seq": end.last_seq,
            "last_hash": end.last_hash,
            "first_seq": end.first_seq,
            "start_hash": end.start_hash,
            "at": end.at,
            "key_id": end.key_id,
            "signature": end.signature,
        }
    )


# -- reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    format: str
    first_seq: int
    start_hash: str


@dataclass(frozen=True, slots=True)
class _End:
    line: int
    records: int
    checkpoints: int
    last_seq: int
    last_hash: str
    signed: ExportEnd | None  #: None in a remit.audit.export/v1 file


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
    if data.get("type") != "header" or data.get("format") not in (EXPORT_FORMAT, LEGACY_FORMAT):
        raise ExportFileError(
            f"not a Remit audit export: the first line must be a {EXPORT_FORMAT} header "
            "(an --format ocsf export is for SIEMs and cannot be verified)",
            number,
        )
    return _Header(str(data["format"]), _int(data, "first_seq", number, low=1), _hash(data, "start_hash", number))


def _record(number: int, data: dict[str, Any]) -> StoredRecord:
    return StoredRecord(
        seq=_int(data, "seq", number, low=1),
        text=_str(data, "text", number),
        prev_hash=_hash(data, "prev_hash", number),
        hash=_hash(data, "hash", number),
        line=number,
    )


def _checkpoint(number: int, data: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        seq=_int(data, "seq", number),
        hash=_hash(data, "hash", number),
        at=_str(data, "at", number),
        key_id=_str(data, "key_id", number),
        signature=_str(data, "signature", number),
    )


def _end(number: int, data: dict[str, Any], *, signed: bool) -> _End:
    last_seq, last_hash = _int(data, "last_seq", number), _hash(data, "last_hash", number)
    end = None
    if signed:
        end = ExportEnd(
            first_seq=_int(data, "first_seq", number, low=1),
            start_hash=_hash(data, "start_hash", number),
            last_seq=last_seq,
            last_hash=last_hash,
            at=_str(data, "at", number),
            key_id=_str(data, "key_id", number),
            signature=_str(data, "signature", number),
        )
    return _End(number, _int(data, "records", number), _int(data, "checkpoints", number), last_seq, last_hash, end)


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
            end = _end(number, data, signed=header.format == EXPORT_FORMAT)
        elif kind == "header":
            raise ExportFileError("a second header: two exports were joined", number)
        else:
            raise ExportFileError(f"unknown line type {str(kind)[:40]!r}", number)
    assert header is not None  # _lines raises for an empty file
    if end is None:
        raise ExportFileError(f"the file ends without its end line, after {records} records: it is truncated", last)
    return _Structure(header, checkpoints, end, records)


def _records(path: Path) -> Iterator[StoredRecord]:
    """The second pass: the records, each with its line."""
    for number, data in _lines(path):
        if data.get("type") == "record":
            yield _record(number, data)


def verify_export(path: Path, check_signature: SignatureCheck | None, *, allow_unsigned_end: bool = False) -> Report:
    """Verify an export file: its structure (``ExportFileError`` naming the line), then the chain in it, its
    checkpoints and its signed end (the report names the first problem's seq, and the line it was found at).

    A ``remit.audit.export/v1`` file (its end not signed) is refused, unless ``allow_unsigned_end``: then it is
    verified as that format allows, and the report's warnings say what it cannot show."""
    found = _structure(path)
    header, checkpoints, end = found.header, found.checkpoints, found.end
    if end.signed is None and not allow_unsigned_end:
        raise ExportFileError(
            f"a {LEGACY_FORMAT} file: its end line is not signed, so a file cut short at a checkpoint, with its end "
            "line rewritten, would verify; export it again, or accept an unsigned end explicitly "
            "(remit audit verify --allow-unsigned-end)",
            1,
        )
    if header.first_seq > 1:
        # pruned by retention: the export must start right after a checkpoint carrying the start hash
        anchor = next((c for c in checkpoints if c.seq == header.first_seq - 1), None)
        if anchor is None or anchor.hash != header.start_hash:
            return Report(last_seq=header.first_seq - 1, last_hash=header.start_hash).fail(
                header.first_seq, f"the export starts at record {header.first_seq} without a checkpoint vouching for it"
            )
    elif header.start_hash != GENESIS:
        return Report().fail(1, "the export starts at record 1 but not from the genesis hash")
    report = verify(
        _records(path),
        checkpoints,
        check_signature,
        start_seq=header.first_seq,
        start_hash=header.start_hash,
        end_hash=end.last_hash,
    )
    report.expect(end.last_seq, end.last_hash, f"the end line (line {end.line})")
    if not report.ok:
        if report.at_line is not None and report.problem is not None:
            report.problem = f"{report.problem} (line {report.at_line})"
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
    if end.signed is not None:
        return _check_signed_end(report, header, end, end.signed, check_signature)
    report.warnings.append(
        f"a {LEGACY_FORMAT} file: its end line is not signed, so records cut from its end together with their "
        "checkpoints, the end line rewritten to match, would not be detected"
    )
    signed = max((c.seq for c in checkpoints), default=0)
    if report.records and report.last_seq > signed:
        report.warnings.append(
            f"{span(max(signed + 1, header.first_seq), report.last_seq)} after the last checkpoint: "
            "covered by the chain only, not by a signature"
        )
    return report


def _check_signed_end(
    report: Report, header: _Header, end: _End, signed: ExportEnd, check_signature: SignatureCheck | None
) -> Report:
    """The end line's own claims agree with the header, and its signature verifies: nothing was cut."""
    if (signed.first_seq, signed.start_hash) != (header.first_seq, header.start_hash):
        return report.fail(
            header.first_seq,
            f"the end line (line {end.line}) says the export starts at record {signed.first_seq}, the header at "
            f"record {header.first_seq}: the file's start was cut or its header rewritten",
        )
    if check_signature is None:
        report.warnings.append("the end line's signature not checked: no public key given")
        return report
    payload = end_payload(
        signed.first_seq, signed.start_hash, signed.last_seq, signed.last_hash, signed.at, signed.key_id
    )
    if not check_signature(payload, signed.signature, signed.key_id):
        return report.fail(
            None,
            f"the end line (line {end.line}) has an invalid signature (key {signed.key_id}): the file was cut "
            "short or its end line rewritten",
        )
    report.end_signed_at = signed.at
    return report
