"""Tampering with the stored log, directly in the database, is caught by verification at the right record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from remit.admin.access import AdminPrincipal
from remit.audit.chain import link
from remit.audit.record import canonical
from remit.audit.signing import SigningKey
from remit.container import Remit
from remit.errors import StoreError
from remit.registry.service import UserDraft
from remit.settings import Settings
from remit.store.audit import AuditStore


def _fill(remit: Remit, admin: AdminPrincipal, n: int = 12) -> None:
    """``n`` admin changes, each chained in its own transaction, then a checkpoint at the end."""
    for i in range(n):
        remit.registry.create_user(admin, UserDraft(id=f"user-{i}", email=f"user-{i}@example.org"))
    remit.audit_log.start()
    remit.audit_log.stop()  # stopping signs the chain's end


def _exec(remit: Remit, sql: str, **params: object) -> None:
    with remit.engine.begin() as conn:
        conn.execute(text(sql), params)


def _text_of(remit: Remit, seq: int) -> str:
    with remit.engine.connect() as conn:
        return str(conn.execute(text("SELECT text FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one())


def _problem(remit: Remit) -> tuple[int | None, str]:
    report = remit.audit.verify(None)
    return report.at_seq, report.problem or ""


def test_admin_changes_are_in_the_chain_and_verify(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    report = remit.audit.verify(None)
    assert report.ok, report.problem
    assert report.records == 12 and report.checkpoints == 1
    first = json.loads(_text_of(remit, 1))
    assert (first["kind"], first["action"], first["target"]) == (
        "change",
        "user.create",
        {"type": "user", "id": "user-0"},
    )


def test_an_edited_record_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    edited = _text_of(remit, 5).replace("user-4@example.org", "mallory@example.org")
    _exec(remit, "UPDATE audit_events SET text = :t WHERE seq = 5", t=edited)
    assert _problem(remit) == (5, "record 5 was altered: its content does not match its hash")


def test_an_edited_filter_column_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _exec(remit, "UPDATE audit_events SET action = 'user.read' WHERE seq = 3")
    at, problem = _problem(remit)
    assert at == 3 and "column action" in problem


def test_a_deleted_record_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _exec(remit, "DELETE FROM audit_events WHERE seq = 7")
    assert _problem(remit) == (7, "record 7 is missing: removed from the log")


def test_an_inserted_record_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    # make room after record 4 and insert a well-formed record there, hashed onto record 4
    for seq in range(12, 4, -1):
        _exec(remit, "UPDATE audit_events SET seq = :n WHERE seq = :s", n=seq + 1, s=seq)
    body = json.loads(_text_of(remit, 4))
    body.update(seq=5, id="evt_forged")
    forged = canonical(body)
    with remit.engine.connect() as conn:
        prev = str(conn.execute(text("SELECT hash FROM audit_events WHERE seq = 4")).scalar_one())
    _exec(
        remit,
        "INSERT INTO audit_events (seq, id, at, kind, action, source, agent, owner, resource, allowed, text, "
        "prev_hash, hash) SELECT 5, 'evt_forged', at, kind, action, source, agent, owner, resource, allowed, :t, "
        ":p, :h FROM audit_events WHERE seq = 4",
        t=forged,
        p=prev,
        h=link(prev, forged),
    )
    at, problem = _problem(remit)
    assert at == 6 and "predecessor hash differs" in problem


def test_a_chain_rewritten_with_recomputed_hashes_fails_at_the_checkpoint(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    edited = json.loads(_text_of(remit, 6))
    edited["after"]["email"] = "mallory@example.org"
    with remit.engine.connect() as conn:
        prev = str(conn.execute(text("SELECT hash FROM audit_events WHERE seq = 5")).scalar_one())
    for seq in range(6, 13):
        body = edited if seq == 6 else json.loads(_text_of(remit, seq))
        t = canonical(body)
        digest = link(prev, t)
        _exec(
            remit,
            "UPDATE audit_events SET text = :t, prev_hash = :p, hash = :h WHERE seq = :s",
            t=t,
            p=prev,
            h=digest,
            s=seq,
        )
        prev = digest
    _exec(remit, "UPDATE audit_head SET hash = :h", h=prev)
    at, problem = _problem(remit)
    assert at == 12 and "checkpoint 12 does not match" in problem


def test_removing_the_newest_records_is_caught(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _exec(remit, "DELETE FROM audit_events WHERE seq > 9")
    at, problem = _problem(remit)
    assert at == 10 and "removed" in problem


def test_a_checkpoint_signed_by_another_key_is_refused(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    other = SigningKey.generate()
    report = remit.audit.verify(None, [other.public])
    assert report.at_seq == 12 and "invalid signature" in (report.problem or "")


@pytest.mark.parametrize("keep", [True, False], ids=["pruned-at-a-checkpoint", "start-not-vouched-for"])
def test_retention_prunes_to_a_signed_point(remit: Remit, admin: AdminPrincipal, keep: bool) -> None:
    _fill(remit, admin, n=5)
    for i in range(5, 8):
        remit.registry.create_user(admin, UserDraft(id=f"user-{i}", email=f"user-{i}@example.org"))
    store = AuditStore(remit.engine)
    deleted = store.prune_before("9999-01-01T00:00:00.000000Z", remit.audit.sign)
    assert deleted == 5 and store.head().first_seq == 6
    if not keep:
        _exec(remit, "DELETE FROM audit_checkpoints WHERE seq = 5")
    report = remit.audit.verify(None)
    if keep:
        assert report.ok, report.problem
        assert report.records == 3
        assert "after the last checkpoint" in report.warnings[0]
    else:
        assert report.at_seq == 6 and "without a checkpoint" in (report.problem or "")


def test_a_damaged_database_file_is_reported_not_crashed_on(settings: Settings, admin: AdminPrincipal) -> None:
    if not settings.is_sqlite:
        pytest.skip("damaging the file is a SQLite case")
    remit = Remit.from_settings(settings)
    try:
        _fill(remit, admin, n=40)
    finally:
        remit.close()
    path = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    for wal in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        wal.unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[4096 : len(data)] = b"\xff" * (len(data) - 4096)  # every page after the first is garbage
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        damaged = Remit.from_settings(settings, migrate_schema=False)
        try:
            damaged.audit.verify(None)
        finally:
            damaged.close()
    assert "damaged" in caught.value.message or "could not" in caught.value.message
