"""Tampering with the stored log, directly in the database, is caught by verification at the right record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from remit.admin.access import AdminPrincipal
from remit.audit.chain import GENESIS, link
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


# -- what an administrator of the database can do without the key, each named at its record --------------------


def _value(remit: Remit, sql: str, **params: object) -> str:
    with remit.engine.connect() as conn:
        return str(conn.execute(text(sql), params).scalar_one())


def _hash_of(remit: Remit, seq: int) -> str:
    return GENESIS if seq == 0 else _value(remit, "SELECT hash FROM audit_events WHERE seq = :s", s=seq)


def _id_of(remit: Remit, seq: int) -> str:
    return _value(remit, "SELECT id FROM audit_events WHERE seq = :s", s=seq)


def _renumber(remit: Remit, first: int, last: int, by: int) -> None:
    """Move records ``first`` to ``last`` by ``by`` positions, one row at a time (the key is unique)."""
    for seq in range(last, first - 1, -1) if by > 0 else range(first, last + 1):
        _exec(remit, "UPDATE audit_events SET seq = :n WHERE seq = :s", n=seq + by, s=seq)


def _insert_forged(remit: Remit, at: int, *, renumber: bool = True) -> None:
    """A well-formed record stored at ``at``: a copy of a real one under another id, hashed onto record at - 1."""
    model = at if renumber else at - 1
    body = json.loads(_text_of(remit, model))
    body.update(seq=at, id="evt_forged")
    forged, prev = canonical(body), _hash_of(remit, at - 1)
    if renumber:
        _renumber(remit, at, 12, 1)
        model += 1
    _exec(
        remit,
        "INSERT INTO audit_events (seq, id, at, kind, action, source, agent, owner, resource, allowed, text, "
        "prev_hash, hash) SELECT :at, 'evt_forged', at, kind, action, source, agent, owner, resource, allowed, :t, "
        ":p, :h FROM audit_events WHERE seq = :m",
        at=at,
        t=forged,
        p=prev,
        h=link(prev, forged),
        m=model,
    )


def _after(at: int) -> str:
    return "the start of the log" if at == 1 else f"record {at - 1}"


@pytest.mark.parametrize("at", [1, 6, 12], ids=["start", "middle", "end"])
def test_an_inserted_record_is_named_itself(remit: Remit, admin: AdminPrincipal, at: int) -> None:
    """The inserted record, not the one after it: the later records renumbered, the head row moved on."""
    _fill(remit, admin)
    _insert_forged(remit, at)
    _exec(remit, "UPDATE audit_head SET seq = 13")
    assert _problem(remit) == (at, f"record {at} (id evt_forged) was inserted: record {at + 1} follows {_after(at)}")


def test_a_record_appended_around_the_writer_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _insert_forged(remit, 13, renumber=False)
    assert _problem(remit) == (
        13,
        "record 13 (id evt_forged) was inserted after the end of the chain, around the writer: the head row says "
        f"the chain ends at record 12 (hash {_hash_of(remit, 12)})",
    )


@pytest.mark.parametrize("at", [1, 6], ids=["start", "middle"])
def test_a_removed_record_with_the_rest_renumbered_is_named(remit: Remit, admin: AdminPrincipal, at: int) -> None:
    _fill(remit, admin)
    _exec(remit, "DELETE FROM audit_events WHERE seq = :s", s=at)
    _renumber(remit, at + 1, 12, -1)
    _exec(remit, "UPDATE audit_head SET seq = 11")
    assert _problem(remit) == (
        at,
        f"record {at} is missing: removed from the log, and the records after it renumbered (record {at + 1} is "
        f"stored as {at})",
    )


def test_the_removed_last_record_is_named(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _exec(remit, "DELETE FROM audit_events WHERE seq = 12")
    _exec(remit, "UPDATE audit_head SET seq = 11, hash = :h", h=_hash_of(remit, 11))
    assert _problem(remit) == (12, "checkpoint 12 signs a record that is not in the log: records after 11 were removed")


def _replace(remit: Remit, seq: int) -> None:
    """Edit a record and recompute its own hash (not the later ones')."""
    edited = _text_of(remit, seq).replace(f"user-{seq - 1}@example.org", "mallory@example.org")
    assert edited != _text_of(remit, seq)
    prev = _hash_of(remit, seq - 1)
    _exec(remit, "UPDATE audit_events SET text = :t, hash = :h WHERE seq = :s", t=edited, h=link(prev, edited), s=seq)


@pytest.mark.parametrize("at", [1, 6], ids=["start", "middle"])
def test_a_replaced_record_is_named(remit: Remit, admin: AdminPrincipal, at: int) -> None:
    _fill(remit, admin)
    _replace(remit, at)
    assert _problem(remit) == (
        at,
        f"record {at} (id {_id_of(remit, at)}) was altered and its hash recomputed: record {at + 1} was written "
        f"after another record {at}",
    )


def test_a_replaced_last_record_is_caught_by_its_checkpoint(remit: Remit, admin: AdminPrincipal) -> None:
    _fill(remit, admin)
    _replace(remit, 12)
    at, problem = _problem(remit)
    assert at == 12 and problem.startswith("checkpoint 12 does not match record 12")


def test_a_replaced_record_past_the_last_checkpoint_is_caught_by_the_head_row(
    remit: Remit, admin: AdminPrincipal
) -> None:
    _fill(remit, admin)
    remit.registry.create_user(admin, UserDraft(id="user-12", email="user-12@example.org"))  # record 13, unsigned
    head = _hash_of(remit, 13)
    _replace(remit, 13)
    assert _problem(remit) == (
        13,
        f"record 13 does not match the head row: the head row says the chain ends at record 13 (hash {head}), the "
        f"record's hash is {_hash_of(remit, 13)} (the record was replaced and its hash recomputed, or the head row "
        "edited)",
    )


@pytest.mark.parametrize("at", [1, 6, 11], ids=["start", "middle", "end"])
def test_swapped_records_are_named(remit: Remit, admin: AdminPrincipal, at: int) -> None:
    _fill(remit, admin)
    first, second = _id_of(remit, at), _id_of(remit, at + 1)
    _exec(remit, "UPDATE audit_events SET seq = 0 WHERE seq = :s", s=at)
    _exec(remit, "UPDATE audit_events SET seq = :n WHERE seq = :s", n=at, s=at + 1)
    _exec(remit, "UPDATE audit_events SET seq = :n WHERE seq = 0", n=at + 1)
    assert _problem(remit) == (
        at,
        f"record {at} (id {second}) is out of order: it was written after record {at + 1} (id {first}), which is "
        "stored after it: the log was reordered",
    )


def test_a_truncated_tail_is_named_with_the_head_it_expected(remit: Remit, admin: AdminPrincipal) -> None:
    """Past the last checkpoint the records are only chained: the head row tells that some were removed."""
    _fill(remit, admin)
    for i in range(12, 15):  # records 13 to 15, after checkpoint 12
        remit.registry.create_user(admin, UserDraft(id=f"user-{i}", email=f"user-{i}@example.org"))
    head = _hash_of(remit, 15)
    _exec(remit, "DELETE FROM audit_events WHERE seq > 13")
    report = remit.audit.verify(None)
    assert (report.at_seq, report.problem) == (
        14,
        f"the log ends at record 13, but the head row says the chain ends at record 15 (hash {head}): records 14 "
        "to 15 were removed from the end",
    )
    assert (report.expected_seq, report.expected_hash, report.expected_from) == (15, head, "the head row")


def test_a_truncated_tail_with_its_head_row_rewritten_is_only_warned_about(remit: Remit, admin: AdminPrincipal) -> None:
    """What the database alone cannot show: the tail after the last checkpoint removed, the head row moved back.
    An export made before (its end is signed) still holds the removed records."""
    _fill(remit, admin)
    for i in range(12, 15):
        remit.registry.create_user(admin, UserDraft(id=f"user-{i}", email=f"user-{i}@example.org"))
    _exec(remit, "DELETE FROM audit_events WHERE seq > 13")
    _exec(remit, "UPDATE audit_head SET seq = 13, hash = :h", h=_hash_of(remit, 13))
    report = remit.audit.verify(None)
    assert report.ok and report.last_seq == 13
    assert report.warnings == [
        "record 13 is after the last checkpoint: covered by the chain only, not yet by a signature"
    ]


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
