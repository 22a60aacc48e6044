"""``remit audit``: search and follow the audit log, export it (to verify offline, or as OCSF for a SIEM), verify
the chain in the database or in an export file, print the public key, apply retention.

``search``, ``tail``, ``export`` and ``key`` work locally and against a server (``--url``); ``verify`` of the
database and ``prune`` work on the local store only (``verify --file`` needs neither).

The store, the HTTP schemas, the key code and the chain, export and OCSF code are imported by the commands that
use them, not when the module loads: every ``remit`` command imports this module to list it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.state import backend, state
from remit.clock import SystemClock
from remit.errors import BadRequest, ConfigurationError, Conflict, RemitError

if TYPE_CHECKING:
    from rich.progress import Progress

    from remit.audit.chain import Checkpoint, Report, StoredRecord
    from remit.audit.export import ExportEnd
    from remit.audit.signing import PublicKey
    from remit.cli.backend import Backend
    from remit.cli.local import LocalBackend
    from remit.store.audit import AuditFilter

app = typer.Typer(help="The audit log: search, follow, export, verify.", no_args_is_help=True)

CHAIN_SLICE = 1000
_RELATIVE = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class Format(StrEnum):
    REMIT = "remit"
    OCSF = "ocsf"


# -- filters ---------------------------------------------------------------------------------------------------

Agent = Annotated[str | None, typer.Option("--agent", help="The agent's name.")]
Owner = Annotated[str | None, typer.Option("--owner", help="The agent owner's user id.")]
Resource = Annotated[
    str | None, typer.Option("--resource", metavar="TYPE::ID", help="e.g. Tool::helpdesk.get_ticket, agent::bot.")
]
Action = Annotated[str | None, typer.Option("--action", help="e.g. call_tool, agent.suspend.")]
Kind = Annotated[str | None, typer.Option("--kind", help="decision, change, token or grant.")]
Decision = Annotated[str | None, typer.Option("--decision", metavar="allow|deny", help="Only allows, or only denies.")]
Since = Annotated[
    str | None, typer.Option("--since", help="From this time on: 2026-01-01T00:00:00Z, or 15m, 2h, 7d ago.")
]
Until = Annotated[str | None, typer.Option("--until", help="Before this time (same forms as --since).")]


def _time(value: str | None) -> str | datetime | None:
    if value is None:
        return None
    m = _RELATIVE.fullmatch(value.strip())
    if m is None:
        return value  # RFC 3339, checked with the other filters
    return SystemClock().now() - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def _filter(
    agent: str | None,
    owner: str | None,
    resource: str | None,
    action: str | None,
    kind: str | None,
    decision: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    """The filter, or a usage error (exit 2) naming the option."""
    from remit.api.schemas.audit import audit_filter

    try:
        return audit_filter(
            agent=agent,
            owner=owner,
            resource=resource,
            action=action,
            kind=kind,
            decision=decision,
            since=_time(since),
            until=_time(until),
        )
    except BadRequest as exc:
        raise typer.BadParameter(exc.message, param_hint=f"--{exc.field}") from exc


# -- rendering -------------------------------------------------------------------------------------------------


def _who(r: Json) -> str:
    principal = r.get("principal")
    if isinstance(principal, dict):
        return f"{principal.get('type')}::{principal.get('id')}"
    return str(r.get("actor") or "-")


def _on(r: Json) -> str:
    for member in ("resource", "target"):
        value = r.get(member)
        if isinstance(value, dict):
            return f"{value.get('type')}::{value.get('id')}"
    return "-"


def _result(r: Json) -> Text:
    decision = r.get("decision")
    if not isinstance(decision, dict):
        return Text("-", style="dim")
    if decision.get("allowed"):
        return Text("allow", style="green")
    code = decision.get("deny_code")
    return Text(f"deny ({code})" if code else "deny", style="red")


def _line(r: Json) -> Text:
    line = Text(f"{r.get('seq', '?'):>7}  {output.when(str(r.get('at', '')))}  ")
    line.append(f"{r.get('kind', '?'):<8} {r.get('action', '?')}  {_who(r)} -> {_on(r)}  ")
    line.append_text(_result(r))
    return line


# -- commands --------------------------------------------------------------------------------------------------


@app.command("search")
def search(
    ctx: typer.Context,
    agent: Agent = None,
    owner: Owner = None,
    resource: Resource = None,
    action: Action = None,
    kind: Kind = None,
    decision: Decision = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """Search the audit log, newest first."""
    where = _filter(agent, owner, resource, action, kind, decision, since, until)
    b = backend(ctx)
    result = collect(lambda p: b.audit_search(where, p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Audit records",
        columns=["seq", "at", "kind", "action", "who", "on", "result", "source"],
        row=lambda r: [
            str(r.get("seq")),
            output.text(r.get("at")),
            output.text(r.get("kind")),
            output.text(r.get("action")),
            _who(r),
            _on(r),
            _result(r),
            output.text(r.get("source")),
        ],
    )


@app.command("tail")
def tail(
    ctx: typer.Context,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0, max=200, help="How many recent records first.")] = 10,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new records (Ctrl-C ends).")] = False,
    after: Annotated[
        int | None, typer.Option("--after", min=0, metavar="SEQ", help="Start after this record instead (0: all).")
    ] = None,
    stop_after: Annotated[
        int | None, typer.Option("--stop-after", min=1, metavar="N", help="End after printing N records.")
    ] = None,
    agent: Agent = None,
    owner: Owner = None,
    resource: Resource = None,
    action: Action = None,
    kind: Kind = None,
    decision: Decision = None,
    since: Since = None,
    until: Until = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
) -> None:
    """The most recent records, oldest first; with --follow, then each new one as it is written."""
    where = _filter(agent, owner, resource, action, kind, decision, since, until)
    b = backend(ctx)
    printed = 0

    def emit(r: Json) -> bool:
        nonlocal printed
        if as_json:
            typer.echo(json.dumps(r, separators=(",", ":"), ensure_ascii=False))
        else:
            output.console().print(_line(r))
        printed += 1
        return stop_after is not None and printed >= stop_after

    start = after
    if after is None:
        recent = b.audit_search(where, page(lines, None))["items"] if lines else []
        for r in reversed(recent):
            if emit(r):
                return
        if not follow:
            return
        start = int(recent[0]["seq"]) if recent else None
    try:
        for r in b.audit_stream(where, start, follow=follow):
            if emit(r):
                return
    except KeyboardInterrupt:
        return


@app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="Where to write (JSON lines).")],
    fmt: Annotated[
        Format,
        typer.Option(
            "--format", help="remit: the chain, verifiable offline (remit audit verify --file). ocsf: for SIEMs."
        ),
    ] = Format.REMIT,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    agent: Agent = None,
    owner: Owner = None,
    resource: Resource = None,
    action: Action = None,
    kind: Kind = None,
    decision: Decision = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Export the audit log as JSON lines, oldest first."""
    where = _filter(agent, owner, resource, action, kind, decision, since, until)
    if fmt is Format.REMIT and not _everything(where):
        raise typer.BadParameter(
            "a remit export is the whole chain, so that it can be verified; filters apply to --format ocsf",
            param_hint="--format",
        )
    if out.exists() and not force:
        raise ConfigurationError(f"{out} exists; add --force to replace it", field="out")
    b = backend(ctx)
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # audit records are sensitive
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f, _progress() as progress:
            if fmt is Format.REMIT:
                records, checkpoints = _export_chain(b, f.write, progress)
            else:
                records, checkpoints = _export_ocsf(b, where, f.write, progress), 0
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    signed = f" and {checkpoints} checkpoint{'s' if checkpoints != 1 else ''}" if fmt is Format.REMIT else ""
    output.done(f"exported {records} record{'s' if records != 1 else ''}{signed} to {out} ({fmt.value})")


def _everything(where: AuditFilter) -> bool:
    from remit.store.audit import AuditFilter

    return where == AuditFilter()


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output.console(err=True),
        transient=True,
    )


def _export_chain(b: Backend, write: Callable[[str], Any], progress: Progress) -> tuple[int, int]:
    """The chain as it stands now, in the ``remit.audit.export/v2`` file format; (records, checkpoints)."""
    from remit.audit.export import checkpoint_line, end_line, header_line, record_line
    from remit.audit.record import timestamp
    from remit.cli.local import LocalBackend

    if isinstance(b, LocalBackend):
        b.audit_seal()  # so that the export ends at a signed checkpoint
    first = b.audit_chain(0, CHAIN_SLICE)
    head = int(first["head_seq"])
    start_seq, start_hash = int(first["first_seq"]), str(first["start_hash"])
    task = progress.add_task("export", total=max(head - start_seq + 1, 0))
    write(header_line(start_seq, start_hash, timestamp(SystemClock().now())))
    records = checkpoints = 0
    last_seq, last_hash = start_seq - 1, start_hash
    got: Json | None = first
    while got is not None:
        pending = sorted((_checkpoint(c) for c in got["checkpoints"]), key=lambda c: c.seq)
        for row in got["records"]:
            record = _stored(row)
            if record.seq > head:
                break
            while pending and pending[0].seq < record.seq:
                write(checkpoint_line(pending.pop(0)))
                checkpoints += 1
            write(record_line(record))
            records += 1
            last_seq, last_hash = record.seq, record.hash
            while pending and pending[0].seq == record.seq:
                write(checkpoint_line(pending.pop(0)))
                checkpoints += 1
            progress.advance(task)
        for cp in pending:
            if cp.seq <= head:
                write(checkpoint_line(cp))
                checkpoints += 1
        after = got["next_after"]
        got = b.audit_chain(int(after), CHAIN_SLICE) if after is not None and int(after) < head else None
    end = _signed_end(b.audit_chain_end(last_seq))
    if (end.first_seq, end.start_hash, end.last_seq, end.last_hash) != (start_seq, start_hash, last_seq, last_hash):
        raise Conflict(
            f"the audit log changed during the export (pruned, or record {last_seq} now has another hash): the "
            "export was not written; export again"
        )
    write(end_line(records, checkpoints, end))
    return records, checkpoints


def _signed_end(e: Json) -> ExportEnd:
    from remit.audit.export import ExportEnd

    return ExportEnd(
        first_seq=int(e["first_seq"]),
        start_hash=str(e["start_hash"]),
        last_seq=int(e["last_seq"]),
        last_hash=str(e["last_hash"]),
        at=str(e["at"]),
        key_id=str(e["key_id"]),
        signature=str(e["signature"]),
    )


def _export_ocsf(b: Backend, where: AuditFilter, write: Callable[[str], Any], progress: Progress) -> int:
    from remit.audit.ocsf import to_ocsf

    total = b.audit_count() if _everything(where) else None
    task = progress.add_task("export", total=total)
    n = 0
    for record in b.audit_stream(where, 0, follow=False):
        write(json.dumps(to_ocsf(record), separators=(",", ":"), ensure_ascii=False) + "\n")
        n += 1
        progress.advance(task)
    return n


def _stored(row: Json) -> StoredRecord:
    from remit.audit.chain import StoredRecord

    return StoredRecord(
        seq=int(row["seq"]), text=str(row["text"]), prev_hash=str(row["prev_hash"]), hash=str(row["hash"])
    )


def _checkpoint(c: Json) -> Checkpoint:
    from remit.audit.chain import Checkpoint

    return Checkpoint(int(c["seq"]), str(c["hash"]), str(c["at"]), str(c["key_id"]), str(c["signature"]))


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="EXPORT", help="Verify an export file (remit format) instead of the database."),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            metavar="PEM",
            help="Check checkpoint signatures with this public key (repeatable; default: this home's key).",
        ),
    ] = None,
    allow_unsigned_end: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned-end",
            help="Accept an export of the first format (remit.audit.export/v1), whose end is not signed: a file "
            "cut short at a checkpoint, its end line rewritten, then verifies.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Verify the hash chain and its signed checkpoints: exit 0 if intact, 1 naming the first problem."""
    from remit.audit.export import ExportFileError, keys_checker, verify_export

    keys = [_public_key(path) for path in public_key or []]
    if file is not None:
        if not keys:
            keys = _home_key(ctx)
        try:
            report = verify_export(file, keys_checker(keys), allow_unsigned_end=allow_unsigned_end)
        except ExportFileError as exc:
            raise ExportFileError(f"{file}: {exc.message}") from exc
    else:
        local = _local(ctx, "verify the database (or give --file EXPORT)")
        report = local.audit_verify(keys or None)
    _report(report, as_json)


def _report(report: Report, as_json: bool) -> None:
    if as_json:
        output.emit_json(
            {
                "ok": report.ok,
                "records": report.records,
                "checkpoints": report.checkpoints,
                "last_seq": report.last_seq,
                "last_hash": report.last_hash,
                "problem": report.problem,
                "at_seq": report.at_seq,
                "warnings": report.warnings,
                "expected_end": None
                if report.expected_seq is None
                else {"seq": report.expected_seq, "hash": report.expected_hash, "from": report.expected_from},
                "end_signed_at": report.end_signed_at,
            }
        )
    else:
        for warning in report.warnings:
            output.console(err=True).print(Text(f"warning: {warning}", style="yellow"))
    if not report.ok:
        if not as_json:
            typer.secho(f"error: {report.problem}", fg=typer.colors.RED, err=True)
            output.note(f"{report.records} records verified before it{_expected(report)}")
        raise typer.Exit(1)
    if not as_json:
        plural = "s" if report.checkpoints != 1 else ""
        output.done(
            f"ok: {report.records} records and {report.checkpoints} signed checkpoint{plural} verified{_upto(report)}"
        )


def _upto(report: Report) -> str:
    """Where the verified chain ends, and what vouches for that end."""
    if not report.records:
        return ""
    where = f" (up to record {report.last_seq}"
    if report.expected_from is not None:
        where += f", where {report.expected_from} says the chain ends"
    where += ")"
    if report.end_signed_at is not None:
        where += f"; the export's end is signed, at {report.end_signed_at}"
    return where


def _expected(report: Report) -> str:
    """Where the chain should have ended, as the head row or the end line says."""
    if report.expected_seq is None or (report.expected_from or "") in (report.problem or ""):
        return ""
    return f"; {report.expected_from} says the chain ends at record {report.expected_seq} (hash {report.expected_hash})"


@app.command("key")
def key(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Print the public key that verifies the audit log's checkpoints (PEM), for auditors."""
    got = backend(ctx).audit_public_key()
    if as_json:
        output.emit_json(got)
        return
    typer.echo(str(got["pem"]).rstrip("\n"))
    output.note(f"key id {got['key_id']} ({got.get('algorithm', 'Ed25519')})")


@app.command("prune")
def prune(
    ctx: typer.Context,
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Keep this many days (default: audit.retention_days).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Apply retention: delete the records older than audit.retention_days, down to a signed checkpoint."""
    local = _local(ctx, "prune the audit log")
    keep = days if days is not None else state(ctx).settings().audit.retention_days
    if keep is None:
        output.note("audit.retention_days is not set (REMIT_AUDIT__RETENTION_DAYS) and no --days given: nothing pruned")
        return
    if not yes:
        typer.confirm(f"Delete the audit records older than {keep} days (down to a signed checkpoint)?", abort=True)
    from remit.audit.record import timestamp

    deleted, before = local.audit_prune(keep)
    if deleted:
        output.done(f"pruned {deleted} record{'s' if deleted != 1 else ''} older than {output.when(timestamp(before))}")
    else:
        output.note(f"nothing to prune: no checkpoint was written before {output.when(timestamp(before))}")


# -- helpers ---------------------------------------------------------------------------------------------------


def _local(ctx: typer.Context, what: str) -> LocalBackend:
    from remit.cli.local import LocalBackend

    s = state(ctx)
    if s.url:
        raise ConfigurationError(
            f"remit audit can {what} on the local store only (REMIT_HOME or REMIT_DATABASE_URL); against a server, "
            "run remit audit export, then remit audit verify --file",
            field="url",
        )
    local = LocalBackend(s.settings())
    ctx.call_on_close(local.close)
    return local


def _public_key(path: Path) -> PublicKey:
    from remit.audit.signing import PublicKey

    try:
        return PublicKey.from_pem(path.read_bytes())
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc.message}", field="public-key") from exc


def _home_key(ctx: typer.Context) -> list[PublicKey]:
    """This home's audit key, if it has one (never created here): verifying a file works anywhere."""
    from remit.audit.signing import KEY_FILE, SigningKey

    try:
        settings = state(ctx).settings()
    except RemitError:
        return []
    path = settings.audit.signing_key_file or settings.home / "keys" / KEY_FILE
    if not path.is_file():
        return []
    signing = SigningKey.from_pem(path.read_bytes(), source=str(path))
    output.note(f"checking signatures with this home's audit key {signing.key_id} (--public-key to give another)")
    return [signing.public]
