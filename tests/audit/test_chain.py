"""The chain and its verifier, on records built in memory: every kind of tampering is named at its place."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from remit.audit.chain import GENESIS, Checkpoint, StoredRecord, checkpoint_payload, link, verify
from remit.audit.record import canonical, index_columns
from remit.audit.signing import SigningKey

KEY = SigningKey.generate()


def _body(seq: int) -> dict[str, object]:
    return {
        "schema": "remit.audit/v1",
        "seq": seq,
        "id": f"dec_{seq}",
        "at": f"2026-11-28T10:00:{seq:02d}.000000Z",
        "kind": "decision",
        "action": "call_tool",
        "source": "authzen",
        "principal": {"type": "Agent", "id": "bot", "owner": "alice"},
        "resource": {"type": "Tool", "id": "helpdesk.get_ticket"},
        "decision": {"allowed": seq % 2 == 0, "effect": "allow" if seq % 2 == 0 else "deny", "policies": []},
    }


def _chain(n: int) -> list[StoredRecord]:
    out: list[StoredRecord] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        body = _body(seq)
        text = canonical(body)
        digest = link(prev, text)
        out.append(StoredRecord(seq, text, prev, digest, index_columns(body)))
        prev = digest
    return out


def _checkpoint(record: StoredRecord, key: SigningKey = KEY) -> Checkpoint:
    at = "2026-11-28T11:00:00.000000Z"
    signature = key.sign(checkpoint_payload(record.seq, record.hash, at, key.key_id))
    return Checkpoint(record.seq, record.hash, at, key.key_id, signature)


def _verify(records: list[StoredRecord], checkpoints: list[Checkpoint]) -> tuple[int | None, str]:
    report = verify(records, checkpoints, KEY.public.verify, index_columns)
    return report.at_seq, report.problem or ""


def _rehash(records: list[StoredRecord], start: int) -> list[StoredRecord]:
    """What an attacker without the key can do: recompute every hash from ``start`` on."""
    out = list(records[: start - 1])
    prev = out[-1].hash if out else GENESIS
    for r in records[start - 1 :]:
        digest = link(prev, r.text)
        out.append(replace(r, prev_hash=prev, hash=digest))
        prev = digest
    return out


def test_an_untouched_chain_verifies() -> None:
    records = _chain(10)
    report = verify(records, [_checkpoint(records[4]), _checkpoint(records[9])], KEY.public.verify, index_columns)
    assert report.ok, report.problem
    assert (report.records, report.checkpoints, report.last_seq) == (10, 2, 10)


def test_an_altered_record_is_named() -> None:
    records = _chain(10)
    body = json.loads(records[6].text)
    body["decision"]["allowed"] = True
    records[6] = replace(records[6], text=canonical(body))
    assert _verify(records, []) == (7, "record 7 was altered: its content does not match its hash")


def test_a_column_that_disagrees_with_the_hashed_text_is_named() -> None:
    records = _chain(10)
    columns = dict(records[2].columns or {})
    columns["allowed"] = not columns["allowed"]
    records[2] = replace(records[2], columns=columns)
    at, problem = _verify(records, [])
    assert at == 3 and "column allowed" in problem


def test_a_removed_record_is_named() -> None:
    records = _chain(10)
    del records[4]
    assert _verify(records, []) == (5, "record 5 is missing: removed from the log")
    del records[4:7]
    at, problem = _verify(records, [])
    assert at == 5 and "records 5 to 8 are missing" in problem


# -- naming the damage: insertion, removal, alteration and reordering, at the start, in the middle, at the end --------

N = 10


def _signed_chain() -> tuple[list[StoredRecord], list[Checkpoint]]:
    """Ten records, the last one signed (as a stopped server or an export leaves it)."""
    records = _chain(N)
    return records, [_checkpoint(records[-1])]


def _forged(seq: int, prev: str, body_seq: int | None = None) -> StoredRecord:
    """A well-formed record that was never written by Remit: its hash is right, it follows ``prev``."""
    body = {**_body(seq), "id": "dec_forged", "seq": seq if body_seq is None else body_seq}
    text = canonical(body)
    return StoredRecord(seq, text, prev, link(prev, text), index_columns(body))


def _insert(records: list[StoredRecord], at: int) -> list[StoredRecord]:
    """A forged record stored at ``at``, hashed onto the record before it; the later ones renumbered."""
    prev = records[at - 2].hash if at > 1 else GENESIS
    return [*records[: at - 1], _forged(at, prev), *[replace(r, seq=r.seq + 1) for r in records[at - 1 :]]]


def _delete(records: list[StoredRecord], at: int) -> list[StoredRecord]:
    """Record ``at`` removed and the later ones renumbered: no gap in the positions."""
    return [*records[: at - 1], *[replace(r, seq=r.seq - 1) for r in records[at:]]]


def _replace(records: list[StoredRecord], at: int) -> list[StoredRecord]:
    """Record ``at`` edited and its own hash recomputed (but not the later ones')."""
    r = records[at - 1]
    body = json.loads(r.text)
    body["principal"]["id"] = "someone-else"
    text = canonical(body)
    return [
        *records[: at - 1],
        replace(r, text=text, hash=link(r.prev_hash, text), columns=index_columns(body)),
        *records[at:],
    ]


def _swap(records: list[StoredRecord], at: int) -> list[StoredRecord]:
    """Records ``at`` and ``at + 1`` stored in each other's place."""
    a, b = records[at - 1], records[at]
    return [*records[: at - 1], replace(b, seq=a.seq), replace(a, seq=b.seq), *records[at + 1 :]]


def _after(at: int) -> str:
    return "the start of the log" if at == 1 else f"record {at - 1}"


@pytest.mark.parametrize("at", [1, 5, N], ids=["start", "middle", "end"])
def test_an_inserted_record_is_named_itself(at: int) -> None:
    """Not the record after it, whose predecessor hash is where the walk stumbles."""
    records, checkpoints = _signed_chain()
    assert _verify(_insert(records, at), checkpoints) == (
        at,
        f"record {at} (id dec_forged) was inserted: record {at + 1} follows {_after(at)}",
    )


def test_records_inserted_together_are_named() -> None:
    records, checkpoints = _signed_chain()
    tampered = _insert(_insert(records, 4), 5)  # two forged records at 4 and 5, the second hashed onto the first
    assert _verify(tampered, checkpoints) == (
        4,
        "records 4 to 5 (ids dec_forged, dec_forged) were inserted: record 6 follows record 3",
    )


def test_an_inserted_record_with_a_wrong_position_is_named() -> None:
    records, checkpoints = _signed_chain()
    sloppy = [*records[:4], _forged(5, records[3].hash, body_seq=99), *[replace(r, seq=r.seq + 1) for r in records[4:]]]
    assert _verify(sloppy, checkpoints) == (5, "record 5 (id dec_forged) was inserted: record 6 follows record 4")


def test_an_inserted_record_hashed_onto_another_is_named() -> None:
    """Stored at 6 but hashed onto record 4: record 7 follows record 5, so record 6 is the foreign one."""
    records, checkpoints = _signed_chain()
    sloppy = [*records[:5], _forged(6, records[3].hash), *[replace(r, seq=r.seq + 1) for r in records[5:]]]
    assert _verify(sloppy, checkpoints) == (6, "record 6 (id dec_forged) was inserted: record 7 follows record 5")


def test_a_record_appended_onto_an_earlier_one_is_named_not_the_signed_one() -> None:
    """Appended at 11 but hashed onto record 9: record 10 is signed by a checkpoint, so 11 is the stranger."""
    records, checkpoints = _signed_chain()
    tampered = [*records, _forged(N + 1, records[N - 2].hash)]
    assert _verify(tampered, checkpoints) == (
        N + 1,
        f"record {N + 1} (id dec_forged) was inserted: it follows record {N - 1}, as record {N} does",
    )


@pytest.mark.parametrize("at", [1, 5], ids=["start", "middle"])
def test_a_removed_record_with_the_rest_renumbered_is_named(at: int) -> None:
    records, checkpoints = _signed_chain()
    assert _verify(_delete(records, at), checkpoints) == (
        at,
        f"record {at} is missing: removed from the log, and the records after it renumbered (record {at + 1} is "
        f"stored as {at})",
    )


def test_records_removed_together_are_named() -> None:
    records, checkpoints = _signed_chain()
    assert _verify(_delete(_delete(records, 5), 5), checkpoints) == (
        5,
        "records 5 to 6 are missing: removed from the log, and the records after them renumbered (record 7 is "
        "stored as 5)",
    )


def test_the_removed_last_record_is_named_by_its_checkpoint() -> None:
    records, checkpoints = _signed_chain()
    assert _verify(_delete(records, N), checkpoints) == (
        N,
        f"checkpoint {N} signs a record that is not in the log: records after {N - 1} were removed",
    )


@pytest.mark.parametrize("at", [1, 5], ids=["start", "middle"])
def test_a_replaced_record_is_named(at: int) -> None:
    """Edited and its hash recomputed: it verifies itself, and the next record was written after another one."""
    records, checkpoints = _signed_chain()
    assert _verify(_replace(records, at), checkpoints) == (
        at,
        f"record {at} (id dec_{at}) was altered and its hash recomputed: record {at + 1} was written after another "
        f"record {at}",
    )


def test_a_replaced_last_record_is_caught_by_its_checkpoint() -> None:
    records, checkpoints = _signed_chain()
    at, problem = _verify(_replace(records, N), checkpoints)
    assert at == N and problem.startswith(f"checkpoint {N} does not match record {N}: the log was rewritten up to it")


@pytest.mark.parametrize("at", [1, 5, N], ids=["start", "middle", "end"])
def test_an_edited_record_is_named(at: int) -> None:
    records, checkpoints = _signed_chain()
    body = json.loads(records[at - 1].text)
    body["decision"]["allowed"] = not body["decision"]["allowed"]
    records[at - 1] = replace(records[at - 1], text=canonical(body))
    assert _verify(records, checkpoints) == (at, f"record {at} was altered: its content does not match its hash")


def test_an_edited_predecessor_hash_is_named() -> None:
    records, checkpoints = _signed_chain()
    records[4] = replace(records[4], prev_hash="f" * 64)
    assert _verify(records, checkpoints) == (
        5,
        "record 5 was altered: its stored predecessor hash was changed (its content matches its hash after record 4)",
    )


@pytest.mark.parametrize("at", [1, 5, N - 1], ids=["start", "middle", "end"])
def test_swapped_records_are_named(at: int) -> None:
    records, checkpoints = _signed_chain()
    assert _verify(_swap(records, at), checkpoints) == (
        at,
        f"record {at} (id dec_{at + 1}) is out of order: it was written after record {at + 1} (id dec_{at}), which "
        "is stored after it: the log was reordered",
    )


def test_a_record_moved_further_is_named() -> None:
    records, checkpoints = _signed_chain()
    moved = [*records[:2], *records[3:7], records[2], *records[7:]]  # record 3 stored after record 7
    renumbered = [replace(r, seq=i) for i, r in enumerate(moved, start=1)]
    assert _verify(renumbered, checkpoints) == (
        3,
        "record 3 (id dec_4) is out of order: it was written after record 7 (id dec_3), which is stored after it: "
        "the log was reordered",
    )


def test_the_report_counts_only_what_comes_before_the_named_record() -> None:
    records, checkpoints = _signed_chain()
    report = verify(_insert(records, 5), checkpoints, KEY.public.verify, index_columns)
    assert (report.at_seq, report.records, report.last_seq, report.last_hash) == (5, 4, 4, records[3].hash)


def test_a_duplicated_position_is_named() -> None:
    records = _chain(5)
    tampered = [*records[:3], records[2], *records[3:]]
    at, problem = _verify(tampered, [])
    assert at == 3 and "appears twice" in problem


def test_a_moved_record_is_named() -> None:
    records = _chain(5)
    body = json.loads(records[1].text)
    body["seq"] = 9
    text = canonical(body)
    records[1] = StoredRecord(2, text, records[0].hash, link(records[0].hash, text), index_columns(body))
    records = [records[0], records[1], *_rehash(records, 3)[2:]]
    at, problem = _verify(records, [])
    assert at == 2 and "moved" in problem


def test_a_rewritten_chain_is_caught_by_the_next_checkpoint() -> None:
    records = _chain(10)
    checkpoints = [_checkpoint(records[2]), _checkpoint(records[7])]
    body = json.loads(records[4].text)
    body["principal"]["id"] = "someone-else"
    records[4] = replace(records[4], text=canonical(body), columns=index_columns(body))
    rewritten = _rehash(records, 5)
    at, problem = _verify(rewritten, checkpoints)
    assert at == 8 and "checkpoint 8 does not match" in problem


def test_a_forged_checkpoint_signature_is_refused() -> None:
    records = _chain(4)
    forged = _checkpoint(records[3], SigningKey.generate())
    at, problem = _verify(records, [replace(forged, key_id=KEY.key_id)])
    assert at == 4 and "invalid signature" in problem
    unknown = verify(records, [forged], KEY.public.verify, index_columns)
    assert unknown.at_seq == 4


def test_a_removed_tail_is_caught_by_a_checkpoint_beyond_it() -> None:
    records = _chain(10)
    checkpoints = [_checkpoint(records[9])]
    at, problem = _verify(records[:7], checkpoints)
    assert at == 8 and "records after 7 were removed" in problem


def test_verification_from_a_pruned_start() -> None:
    records = _chain(10)
    report = verify(records[5:], [], None, index_columns, start_seq=6, start_hash=records[4].hash)
    assert report.ok and report.records == 5
    assert "not checked" in report.warnings[0]
    wrong = verify(records[5:], [], None, index_columns, start_seq=6, start_hash=GENESIS)
    assert wrong.at_seq == 6


@pytest.mark.parametrize("text", ["not json", "[1, 2]", "[" * 100_000 + "]" * 100_000], ids=["text", "list", "deep"])
def test_a_record_that_is_not_an_object_is_named(text: str) -> None:
    record = StoredRecord(1, text, GENESIS, link(GENESIS, text))
    report = verify([record], [], None)
    assert report.at_seq == 1 and report.problem is not None


def test_the_signing_key_never_shows_its_material() -> None:
    assert "PRIVATE" not in repr(KEY) and KEY.key_id in repr(KEY)
    assert KEY.public.pem().startswith("-----BEGIN PUBLIC KEY-----")
