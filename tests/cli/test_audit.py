"""``remit audit``: search, tail, export and verify (the database and export files, intact and tampered with), the
public key and retention, locally (on SQLite and PostgreSQL) and against a running server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import Result

from remit.admin.access import AdminPrincipal, AdminRole
from remit.audit.chain import link
from remit.audit.export import end_payload
from remit.audit.signing import PublicKey, SigningKey
from remit.clock import FrozenClock
from remit.container import Remit
from remit.settings import load_settings
from tests.cli.conftest import Run

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)
Ok = Callable[..., Result]
AsJson = Callable[..., Any]


@pytest.fixture
def store(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The estate's database: a SQLite file or the session's PostgreSQL database (``REMIT_DATABASE_URL``)."""
    monkeypatch.setenv("REMIT_DATABASE_URL", database_url)
    return database_url


def decide(clock: FrozenClock | None = None) -> None:
    """Two decisions by agent bot in the estate of REMIT_HOME / REMIT_DATABASE_URL: a read (allowed), a write
    (denied); then the log is closed, which signs its end."""
    remit = Remit.from_settings(load_settings(), clock=clock, migrate_schema=False)
    try:
        remit.policies.apply(ADMIN, 'permit(principal is Agent, action == Action::"read", resource);')
        authz = remit.authorizer()
        authz.check(("agent", "bot"), "read", ("mcp_server", "helpdesk"), {"source_ip": "192.0.2.7"})
        authz.check(("agent", "bot"), "write", ("mcp_server", "helpdesk"))
        remit.audit_log.flush()
    finally:
        remit.close()


@pytest.fixture
def logged(store: str, initialised: Path, ok: Ok) -> int:
    """An estate with changes and decisions in its audit log; returns how many records it holds."""
    ok("user", "create", "alice", "--email", "alice@example.com")
    ok("agent", "create", "bot", "--owner", "alice")
    ok("resource", "create", "helpdesk", "--kind", "mcp_server")
    decide()
    # init's admin token, alice, bot, helpdesk, the policy, two decisions
    return 7


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def line_of(path: Path, kind: str, seq: int) -> int:
    """The 1-based line of the ``kind`` line for ``seq`` in an export file."""
    return next(i for i, d in enumerate(lines_of(path), start=1) if d["type"] == kind and d.get("seq") == seq)


def rewrite(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))


# -- search and tail -----------------------------------------------------------------------------------------------


def test_search(logged: int, ok: Ok, run: Run, as_json: AsJson) -> None:
    everything = as_json("audit", "search", "--all")
    assert [r["seq"] for r in everything] == list(range(logged, 0, -1))
    assert [r["action"] for r in as_json("audit", "search", "--agent", "bot", "--kind", "decision")] == [
        "write",
        "read",
    ]
    denied = as_json("audit", "search", "--decision", "deny")
    assert [(r["action"], r["decision"]["deny_code"]) for r in denied] == [("write", "no_permit")]
    assert len(as_json("audit", "search", "--resource", "McpServer::helpdesk")) == 2
    # alice's records: the decisions of her agent and the change that created it
    assert as_json("audit", "search", "--owner", "alice", "--since", "1h", "--kind", "decision") == as_json(
        "audit", "search", "--kind", "decision"
    )
    assert [r["action"] for r in as_json("audit", "search", "--owner", "alice", "--kind", "change")] == ["agent.create"]
    assert as_json("audit", "search", "--until", "2000-01-01T00:00:00Z") == []

    table = ok("audit", "search", "--limit", "3")
    assert "Audit records (3)" in table.stdout
    assert "deny (no_permit)" in table.stdout and "Agent::bot" in table.stdout and "McpServer::helpdesk" in table.stdout
    assert "--cursor" in table.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--decision", "maybe"), "--decision"),
        (("--since", "tomorrow"), "--since"),
        (("--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"), "--since"),
        (("--resource", "helpdesk"), "--resource"),
        (("--kind", "everything"), "--kind"),
    ],
)
def test_bad_filters_are_usage_errors(initialised: Path, run: Run, args: tuple[str, ...], option: str) -> None:
    result = run("audit", "search", *args)
    assert result.exit_code == 2, result.output
    assert option in result.output


def test_tail(logged: int, ok: Ok) -> None:
    recent = ok("audit", "tail", "-n", "2").stdout.splitlines()
    assert [line.split()[0] for line in recent] == [str(logged - 1), str(logged)]  # oldest first
    assert "allow" in recent[0] and "deny (no_permit)" in recent[1]

    def seqs(*args: str) -> list[int]:
        return [json.loads(line)["seq"] for line in ok("audit", "tail", "--json", *args).stdout.splitlines()]

    assert seqs("--after", "0") == list(range(1, logged + 1))
    assert seqs("--after", "3", "--kind", "change") == [4, 5]
    # following from the start: what is there comes at once; --stop-after ends it
    assert seqs("-f", "--after", "0", "--stop-after", "3") == [1, 2, 3]
    assert seqs("-n", "1", "--decision", "allow") == [logged - 1]
    assert seqs("-n", "0") == []


# -- export and verify ---------------------------------------------------------------------------------------------


def test_export_and_verify_round_trip(logged: int, tmp_path: Path, ok: Ok, run: Run, as_json: AsJson) -> None:
    out = tmp_path / "audit.jsonl"
    done = ok("audit", "export", "--out", str(out))
    assert f"exported {logged} records" in done.stdout
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert not (tmp_path / "audit.jsonl.partial").exists()
    lines = lines_of(out)
    assert lines[0]["type"] == "header" and lines[0]["format"] == "remit.audit.export/v2"
    assert (lines[0]["first_seq"], lines[0]["start_hash"]) == (1, "0" * 64)
    assert [d["seq"] for d in lines if d["type"] == "record"] == list(range(1, logged + 1))
    last_hash = next(d["hash"] for d in lines if d.get("seq") == logged and d["type"] == "record")
    end = lines[-1]
    assert {k: v for k, v in end.items() if k not in ("at", "key_id", "signature")} == {
        "type": "end",
        "records": logged,
        "checkpoints": sum(d["type"] == "checkpoint" for d in lines),
        "last_seq": logged,
        "last_hash": last_hash,
        "first_seq": 1,
        "start_hash": "0" * 64,
    }
    # the end line is signed with the audit key: where the export starts and where it ends
    key = PublicKey.from_pem(ok("audit", "key").stdout.encode())
    payload = end_payload(1, "0" * 64, logged, last_hash, end["at"], end["key_id"])
    assert end["key_id"] == key.key_id and key.verify(payload, end["signature"], end["key_id"])
    assert lines[-2]["type"] == "checkpoint" and lines[-2]["seq"] == logged  # the export ends at a signed point

    verified = ok("audit", "verify", "--file", str(out))
    assert f"ok: {logged} records" in verified.stdout
    assert f"the export's end is signed, at {end['at']}" in verified.stdout
    assert "checking signatures with this home's audit key" in verified.stderr
    report = as_json("audit", "verify", "--file", str(out))
    assert (report["ok"], report["records"], report["last_seq"], report["warnings"]) == (True, logged, logged, [])
    assert (report["end_signed_at"], report["expected_end"]["seq"], report["expected_end"]["hash"]) == (
        end["at"],
        logged,
        last_hash,
    )

    again = run("audit", "export", "--out", str(out))
    assert again.exit_code == 1 and "--force" in again.stderr
    ok("audit", "export", "--out", str(out), "--force")
    filtered = run("audit", "export", "--out", str(tmp_path / "x.jsonl"), "--agent", "bot")
    assert filtered.exit_code == 2 and "--format" in filtered.output

    db = ok("audit", "verify")
    assert f"ok: {logged} records" in db.stdout


def test_ocsf_export(logged: int, tmp_path: Path, ok: Ok, run: Run) -> None:
    out = tmp_path / "ocsf.jsonl"
    ok("audit", "export", "--out", str(out), "--format", "ocsf")
    events = lines_of(out)
    assert [e["metadata"]["sequence"] for e in events] == list(range(1, logged + 1))
    decisions = [e for e in events if e["class_uid"] == 3003]
    assert [e["status"] for e in decisions] == ["Success", "Failure"]
    assert decisions[0]["src_endpoint"] == {"ip": "192.0.2.7"}
    only = tmp_path / "denies.jsonl"
    ok("audit", "export", "--out", str(only), "--format", "ocsf", "--decision", "deny")
    assert [e["privileges"] for e in lines_of(only)] == [["write"]]
    refused = run("audit", "verify", "--file", str(out))
    assert refused.exit_code == 1
    assert "line 1: not a Remit audit export" in refused.stderr


def _alter(lines: list[str], at: int) -> list[str]:
    data = json.loads(lines[at - 1])
    data["text"] = data["text"].replace("alice@example.com", "mallory@example.com")
    assert data["text"] != json.loads(lines[at - 1])["text"]
    return [*lines[: at - 1], json.dumps(data) + "\n", *lines[at:]]


def test_tampered_export_files_are_named_precisely(logged: int, tmp_path: Path, ok: Ok, run: Run) -> None:
    out = tmp_path / "audit.jsonl"
    ok("audit", "export", "--out", str(out))
    pristine = out.read_text()

    def problem(edit: Callable[[list[str]], list[str]]) -> str:
        out.write_text(pristine)
        rewrite(out, edit)
        result = run("audit", "verify", "--file", str(out))
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        return next(line for line in result.stderr.splitlines() if line.startswith("error: "))

    alice = line_of(out, "record", 2)  # user.create alice
    assert problem(lambda ls: _alter(ls, alice)) == (
        f"error: record 2 was altered: its content does not match its hash (line {alice})"
    )
    third = line_of(out, "record", 3)
    assert problem(lambda ls: [line for i, line in enumerate(ls, 1) if i != third]) == (
        f"error: record 3 is missing: removed from the log (line {line_of(out, 'record', 4)})"
    )
    middle = len(pristine.splitlines()) // 2
    assert problem(lambda ls: [*ls[: middle - 1], "{not json\n", *ls[middle:]]).startswith(
        f"error: {out}: line {middle}: not valid JSON"
    )
    cut = pristine[: pristine.rindex("\n", 0, len(pristine) - 1) - 25]  # the middle of the second-to-last line
    out.write_text(cut)
    result = run("audit", "verify", "--file", str(out))
    assert result.exit_code == 1
    assert (
        f"error: {out}: line {cut.count(chr(10)) + 1}: the last line is incomplete: the file is truncated\n"
        in result.stderr
    )
    total = len(pristine.splitlines())
    assert problem(lambda ls: ls[:-3]) == (  # the last record, its checkpoint and the end line
        f"error: {out}: line {total - 3}: the file ends without its end line, after {logged - 1} records: "
        "it is truncated"
    )

    def no_hash(ls: list[str]) -> list[str]:
        data = json.loads(ls[third - 1])
        del data["hash"]
        return [*ls[: third - 1], json.dumps(data) + "\n", *ls[third:]]

    assert problem(no_hash) == f"error: {out}: line {third}: record line without hash"

    def unsigned(ls: list[str]) -> list[str]:
        end = {k: v for k, v in json.loads(ls[-1]).items() if k != "signature"}
        return [*ls[:-1], json.dumps(end) + "\n"]

    assert problem(unsigned) == f"error: {out}: line {total}: end line without signature"
    assert problem(lambda ls: ls[1:]).startswith(f"error: {out}: line 1: not a Remit audit export")
    assert problem(lambda ls: []) == f"error: {out}: the file is empty: not a Remit audit export"
    assert problem(lambda ls: [*ls, ls[1]]) == (
        f"error: {out}: line {total + 1}: a line after the end line (line {total})"
    )


# -- an export file tampered with: inserted, removed, altered and reordered records, named at their line ---------


Docs = list[dict[str, Any]]


def _tampered(path: Path, edit: Callable[[Docs], Docs], run: Run) -> tuple[Docs, Result]:
    """The export at ``path`` edited (as parsed lines), written back and verified with the home's key."""
    docs = edit(lines_of(path))
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return docs, run("audit", "verify", "--file", str(path))


def _line_of(docs: Docs, doc: dict[str, Any]) -> int:
    return next(i for i, d in enumerate(docs, start=1) if d is doc)


def _record(docs: Docs, seq: int) -> dict[str, Any]:
    return next(d for d in docs if d["type"] == "record" and d["seq"] == seq)


def _renumbered(docs: Docs, first: int, by: int) -> Docs:
    for d in docs:
        if d["type"] == "record" and d["seq"] >= first:
            d["seq"] += by
    return docs


def _error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return next(line for line in result.stderr.splitlines() if line.startswith("error: "))


@pytest.fixture
def export(logged: int, tmp_path: Path, ok: Ok) -> Path:
    """A pristine export of the logged estate (records 1 to 7, checkpoint 7, a signed end)."""
    out = tmp_path / "audit.jsonl"
    ok("audit", "export", "--out", str(out))
    return out


@pytest.mark.parametrize("at", [1, 4, 7], ids=["start", "middle", "end"])
def test_a_record_inserted_into_an_export_is_named(export: Path, run: Run, at: int) -> None:
    def insert(docs: Docs) -> Docs:
        real = _record(docs, at)
        body = json.loads(real["text"])
        body.update(id="evt_forged", seq=at)
        text_ = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        forged = {"type": "record", "seq": at, "text": text_, "prev_hash": real["prev_hash"]}
        forged["hash"] = link(real["prev_hash"], text_)
        _renumbered(docs, at, 1)
        docs.insert(docs.index(real), forged)
        return docs

    docs, result = _tampered(export, insert, run)
    after = "the start of the log" if at == 1 else f"record {at - 1}"
    line = _line_of(docs, next(d for d in docs if "evt_forged" in d.get("text", "")))
    assert (
        _error(result)
        == f"error: record {at} (id evt_forged) was inserted: record {at + 1} follows {after} (line {line})"
    )


@pytest.mark.parametrize("at", [1, 4], ids=["start", "middle"])
def test_a_record_removed_from_an_export_and_the_rest_renumbered_is_named(export: Path, run: Run, at: int) -> None:
    def delete(docs: Docs) -> Docs:
        docs.remove(_record(docs, at))
        return _renumbered(docs, at + 1, -1)

    docs, result = _tampered(export, delete, run)
    assert _error(result) == (
        f"error: record {at} is missing: removed from the log, and the records after it renumbered (record {at + 1} "
        f"is stored as {at}) (line {_line_of(docs, _record(docs, at))})"
    )


@pytest.mark.parametrize("at", [1, 4], ids=["start", "middle"])
def test_a_record_replaced_in_an_export_is_named(export: Path, run: Run, at: int) -> None:
    def replace(docs: Docs) -> Docs:
        real = _record(docs, at)
        body = json.loads(real["text"])
        body["at"] = "2020-01-01T00:00:00.000000Z"
        real["text"] = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        real["hash"] = link(real["prev_hash"], real["text"])
        return docs

    docs, result = _tampered(export, replace, run)
    record = _record(docs, at)
    assert _error(result) == (
        f"error: record {at} (id {json.loads(record['text'])['id']}) was altered and its hash recomputed: record "
        f"{at + 1} was written after another record {at} (line {_line_of(docs, record)})"
    )


@pytest.mark.parametrize("renumber", [True, False], ids=["renumbered", "lines-swapped"])
@pytest.mark.parametrize("at", [1, 4, 6], ids=["start", "middle", "end"])
def test_records_reordered_in_an_export_are_named(export: Path, run: Run, at: int, renumber: bool) -> None:
    ids: dict[int, str] = {}

    def swap(docs: Docs) -> Docs:
        first, second = _record(docs, at), _record(docs, at + 1)
        ids.update({at: json.loads(first["text"])["id"], at + 1: json.loads(second["text"])["id"]})
        i, j = docs.index(first), docs.index(second)
        docs[i], docs[j] = second, first
        if renumber:
            first["seq"], second["seq"] = second["seq"], first["seq"]
        return docs

    docs, result = _tampered(export, swap, run)
    if renumber:
        assert _error(result) == (
            f"error: record {at} (id {ids[at + 1]}) is out of order: it was written after record {at + 1} (id "
            f"{ids[at]}), which is stored after it: the log was reordered (line {_line_of(docs, _record(docs, at))})"
        )
    else:
        assert _error(result) == (
            f"error: record {at} (id {ids[at]}) is out of order: it is stored after record {at + 1} (line "
            f"{_line_of(docs, _record(docs, at))})"
        )


def _end(docs: Docs, **changes: Any) -> Docs:
    """The end line rewritten to count what the file holds (as a careful forger would), with ``changes``."""
    *body, end = docs
    records = [d for d in body if d["type"] == "record"]
    end.update(
        records=len(records),
        checkpoints=sum(d["type"] == "checkpoint" for d in body),
        last_seq=records[-1]["seq"],
        last_hash=records[-1]["hash"],
        **changes,
    )
    return [*body, end]


def test_an_export_cut_at_an_earlier_checkpoint_is_refused(logged: int, tmp_path: Path, ok: Ok, run: Run) -> None:
    """Cut after checkpoint 7 (record 8 and its checkpoint removed), the end line rewritten to match: only the
    end line's signature tells."""
    ok("user", "create", "bob", "--email", "bob@example.com")  # record 8; the export signs it
    out = tmp_path / "audit.jsonl"
    ok("audit", "export", "--out", str(out))
    pristine = lines_of(out)
    assert [d["seq"] for d in pristine if d["type"] == "checkpoint"] == [logged, logged + 1]
    cut = [d for d in pristine[:-1] if d.get("seq") != logged + 1]
    out.write_text("".join(json.dumps(d) + "\n" for d in _end([*cut, pristine[-1]])))
    result = run("audit", "verify", "--file", str(out))
    end = pristine[-1]
    assert _error(result) == (
        f"error: the end line (line {len(cut) + 1}) has an invalid signature (key {end['key_id']}): the file was cut "
        "short or its end line rewritten"
    )

    # the same cut, passed off as a file of the first format (whose end is not signed): refused unless asked for
    header = {**pristine[0], "format": "remit.audit.export/v1"}
    legacy = {k: end[k] for k in ("type", "records", "checkpoints", "last_seq", "last_hash")}
    out.write_text("".join(json.dumps(d) + "\n" for d in _end([header, *cut[1:], legacy])))
    refused = run("audit", "verify", "--file", str(out))
    assert _error(refused) == (
        f"error: {out}: line 1: a remit.audit.export/v1 file: its end line is not signed, so a file cut short at a "
        "checkpoint, with its end line rewritten, would verify; export it again, or accept an unsigned end "
        "explicitly (remit audit verify --allow-unsigned-end)"
    )
    accepted = ok("audit", "verify", "--file", str(out), "--allow-unsigned-end")
    assert f"ok: {logged} records" in accepted.stdout
    assert (
        "warning: a remit.audit.export/v1 file: its end line is not signed, so records cut from its end together "
        "with their checkpoints, the end line rewritten to match, would not be detected" in accepted.stderr
    )


def test_an_export_cut_at_its_start_is_refused(logged: int, tmp_path: Path, ok: Ok, run: Run) -> None:
    """Records 1 to 7 removed and the header rewritten to start after checkpoint 7, as a pruned log's export would:
    the signed end says where the export started."""
    ok("user", "create", "bob", "--email", "bob@example.com")
    out = tmp_path / "audit.jsonl"
    ok("audit", "export", "--out", str(out))
    pristine = lines_of(out)
    seventh = _record(pristine, logged)
    header = {**pristine[0], "first_seq": logged + 1, "start_hash": seventh["hash"]}
    kept = [d for d in pristine[1:] if d["type"] != "record" or d["seq"] > logged]
    out.write_text("".join(json.dumps(d) + "\n" for d in _end([header, *kept])))
    result = run("audit", "verify", "--file", str(out))
    assert _error(result) == (
        f"error: the end line (line {len(kept) + 1}) says the export starts at record 1, the header at record "
        f"{logged + 1}: the file's start was cut or its header rewritten"
    )


def test_a_rewritten_chain_fails_its_signatures(logged: int, tmp_path: Path, ok: Ok, run: Run) -> None:
    """Edit record 2 and recompute every later hash, checkpoints included: only the signatures catch it."""
    out = tmp_path / "audit.jsonl"
    ok("audit", "export", "--out", str(out))
    docs = lines_of(out)
    prev = "0" * 64
    for d in docs:
        if d["type"] == "record":
            if d["seq"] == 2:
                d["text"] = d["text"].replace("alice@example.com", "mallory@example.com")
            d["prev_hash"], d["hash"] = prev, link(prev, d["text"])
            prev = d["hash"]
        elif d["type"] == "checkpoint":
            d["hash"] = prev
        elif d["type"] == "end":
            d["last_hash"] = prev
    out.write_text("".join(json.dumps(d) + "\n" for d in docs))
    result = run("audit", "verify", "--file", str(out))
    assert result.exit_code == 1
    # the export signs the chain's end (record 7) first; CLI commands write no checkpoints of their own
    assert "checkpoint 7 has an invalid signature" in result.stderr

    # with another key, even the pristine export fails; with the right one given explicitly, it verifies
    ok("audit", "export", "--out", str(out), "--force")
    other = tmp_path / "other.pem"
    other.write_text(SigningKey.generate().public.pem())
    wrong = run("audit", "verify", "--file", str(out), "--public-key", str(other))
    assert wrong.exit_code == 1 and "invalid signature" in wrong.stderr
    right = tmp_path / "right.pem"
    right.write_text(ok("audit", "key").stdout)
    assert f"ok: {logged} records" in ok("audit", "verify", "--file", str(out), "--public-key", str(right)).stdout
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    bad = run("audit", "verify", "--file", str(out), "--public-key", str(garbage))
    assert bad.exit_code == 1 and "garbage.pem" in bad.stderr


def test_verify_the_database_names_the_altered_record(logged: int, store: str, run: Run, ok: Ok) -> None:
    engine = create_engine(store)
    try:
        with engine.begin() as conn:
            stored = conn.execute(text("SELECT text FROM audit_events WHERE seq = 2")).scalar_one()
            edited = str(stored).replace("alice@example.com", "mallory@example.com")
            conn.execute(text("UPDATE audit_events SET text = :t WHERE seq = 2"), {"t": edited})
    finally:
        engine.dispose()
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: record 2 was altered: its content does not match its hash")
    assert "1 records verified before it" in result.stderr
    report = json.loads(run("audit", "verify", "--json").stdout)
    assert (report["ok"], report["at_seq"]) == (False, 2)


# -- the key and retention -----------------------------------------------------------------------------------------


def test_key(initialised: Path, ok: Ok, as_json: AsJson, home: Path) -> None:
    pem = ok("audit", "key").stdout
    public = PublicKey.from_pem(pem.encode())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in pem
    assert as_json("audit", "key") == {"key_id": public.key_id, "algorithm": "Ed25519", "pem": public.pem()}
    assert SigningKey.from_pem((home / "keys" / "audit-signing.pem").read_bytes()).key_id == public.key_id


def test_prune(store: str, initialised: Path, tmp_path: Path, ok: Ok, run: Run, as_json: AsJson) -> None:
    ok("user", "create", "alice", "--email", "alice@example.com")
    ok("agent", "create", "bot", "--owner", "alice")
    ok("resource", "create", "helpdesk", "--kind", "mcp_server")
    before = len(as_json("audit", "search", "--all"))
    decide(FrozenClock(datetime(2020, 1, 1, tzinfo=UTC)))  # closing signs the chain's end, dated 2020
    ok("user", "create", "bob", "--email", "bob@example.com")

    assert "nothing pruned" in ok("audit", "prune").stderr  # no retention_days, no --days
    assert "nothing to prune" in ok("audit", "prune", "--days", "36500", "--yes").stderr
    pruned = ok("audit", "prune", "--yes", env={"REMIT_AUDIT__RETENTION_DAYS": "30"})
    assert f"pruned {before + 3} records" in pruned.stdout  # up to the 2020 checkpoint: the policy, 2 decisions
    remaining = as_json("audit", "search", "--all")
    assert [r["action"] for r in remaining] == ["user.create"]
    assert "ok: 1 records" in ok("audit", "verify").stdout

    # an export of the pruned chain starts at the checkpoint that vouches for it, and verifies offline
    out = tmp_path / "pruned.jsonl"
    ok("audit", "export", "--out", str(out))
    lines = lines_of(out)
    assert lines[0]["first_seq"] == before + 4
    assert lines[1]["type"] == "checkpoint" and lines[1]["seq"] == before + 3
    assert "ok: 1 records" in ok("audit", "verify", "--file", str(out)).stdout
    rewrite(out, lambda ls: [ls[0], *ls[2:]])  # drop the anchoring checkpoint
    result = run("audit", "verify", "--file", str(out))
    assert result.exit_code == 1 and "without a checkpoint vouching for it" in result.stderr


# -- against a server ----------------------------------------------------------------------------------------------


def test_remote(store: str, server: str, initialised: Path, tmp_path: Path, ok: Ok, run: Run, as_json: AsJson) -> None:
    ok("user", "create", "alice", "--email", "alice@example.com")
    ok("agent", "create", "bot", "--owner", "alice")
    ok("resource", "create", "helpdesk", "--kind", "mcp_server")
    decide()
    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}

    everything = as_json("audit", "search", "--all", env=remote)
    assert everything == as_json("audit", "search", "--all")  # the same records either way
    n = len(everything)
    assert as_json("audit", "search", "--decision", "deny", env=remote) == as_json(
        "audit", "search", "--decision", "deny"
    )
    assert ok("audit", "tail", "-n", "3", env=remote).stdout == ok("audit", "tail", "-n", "3").stdout
    followed = ok("audit", "tail", "--json", "-f", "--after", "0", "--stop-after", "3", env=remote).stdout
    assert [json.loads(line)["seq"] for line in followed.splitlines()] == [1, 2, 3]
    caught_up = ok("audit", "tail", "--json", "--after", "2", "--kind", "decision", env=remote).stdout
    assert [json.loads(line)["action"] for line in caught_up.splitlines()] == ["read", "write"]
    bad = run("audit", "search", "--since", "soon", env=remote)
    assert bad.exit_code == 2 and "--since" in bad.output

    assert ok("audit", "key", env=remote).stdout == ok("audit", "key").stdout

    out = tmp_path / "remote.jsonl"
    assert f"exported {n} records" in ok("audit", "export", "--out", str(out), env=remote).stdout
    verified = ok("audit", "verify", "--file", str(out))
    # the server signs the export's end: the records after its last checkpoint are covered by that signature
    assert f"ok: {n} records" in verified.stdout and "the export's end is signed" in verified.stdout
    assert "warning" not in verified.stderr
    ocsf = tmp_path / "remote-ocsf.jsonl"
    ok("audit", "export", "--out", str(ocsf), "--format", "ocsf", "--kind", "decision", env=remote)
    assert [e["status"] for e in lines_of(ocsf)] == ["Success", "Failure"]

    refused = run("audit", "verify", env=remote)
    assert refused.exit_code == 1 and "audit verify --file" in refused.stderr
    assert run("audit", "prune", "--yes", env=remote).exit_code == 1
    forged = run("audit", "search", env={**remote, "REMIT_TOKEN": "remit_adm_forged"})
    assert forged.exit_code == 1 and "REMIT_TOKEN" in forged.stderr
