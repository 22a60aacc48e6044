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


def test_an_inserted_record_is_named() -> None:
    records = _chain(6)
    forged_body = {**_body(4), "id": "dec_forged"}
    forged = StoredRecord(4, canonical(forged_body), records[2].hash, link(records[2].hash, canonical(forged_body)))
    # renumber what follows, keeping the original texts and hashes
    tampered = [*records[:3], forged, *[replace(r, seq=r.seq + 1) for r in records[3:]]]
    at, problem = _verify(tampered, [])
    assert at == 5 and "predecessor hash differs" in problem


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


@pytest.mark.parametrize("text", ["not json", "[1, 2]"])
def test_a_record_that_is_not_an_object_is_named(text: str) -> None:
    record = StoredRecord(1, text, GENESIS, link(GENESIS, text))
    report = verify([record], [], None)
    assert report.at_seq == 1 and report.problem is not None


def test_the_signing_key_never_shows_its_material() -> None:
    assert "PRIVATE" not in repr(KEY) and KEY.key_id in repr(KEY)
    assert KEY.public.pem().startswith("-----BEGIN PUBLIC KEY-----")
