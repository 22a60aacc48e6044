"""A record's index columns always fit the store: a caller's long or NUL-bearing value is keyed, never refused by
the database (which would fail the whole batch of decisions written with it). A body that is not text (an unpaired
surrogate) is refused before anything is decided."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import String, text

from remit.admin.access import AdminPrincipal, AdminRole
from remit.audit.record import INDEX_WIDTHS, index_columns, index_key
from remit.container import Remit
from remit.store.tables import AuditRow
from tests.api.conftest import LiveServer, serve

EVALUATION = "/access/v1/evaluation"
ADMIN = AdminPrincipal(actor="test:admin", role=AdminRole.ADMIN)


def test_the_widths_are_the_tables() -> None:
    for name, width in INDEX_WIDTHS.items():
        column_type = AuditRow.__table__.c[name].type
        assert isinstance(column_type, String) and column_type.length == width, name


@pytest.mark.parametrize(
    ("value", "width"),
    [("a" * 201, 200), ("a\x00b", 200), ("\U0001f600" * 600, 1100), ("x" * 10_000, 1100)],
    ids=["too-long", "nul", "too-many-bytes-within-the-width", "huge"],
)
def test_a_value_the_column_cannot_hold_is_keyed(value: str, width: int) -> None:
    key = index_key(value, width)
    assert key == "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    assert len(key) == 71 and key.isascii()
    assert index_key(key, width) == key  # a key is itself storable: keying is idempotent


@pytest.mark.parametrize("value", ["bot", "a" * 200, "é" * 200, "\U0001f600" * 200, "", None, 7])
def test_a_value_that_fits_is_kept(value: Any) -> None:
    assert index_key(value, 200) == value


def test_index_columns_key_only_what_does_not_fit() -> None:
    body = {
        "id": "dec_1",
        "at": "2026-01-01T00:00:00.000000Z",
        "kind": "decision",
        "action": "r" * 256,
        "principal": {"type": "agent", "id": "bot", "owner": "alice"},
        "resource": {"type": "doc", "id": "d" * 1200},
        "decision": {"allowed": False},
    }
    columns = index_columns(body)
    assert (columns["agent"], columns["owner"]) == ("bot", "alice")
    assert columns["action"] == index_key("r" * 256, 200) != "r" * 256
    assert columns["resource"] == index_key("doc::" + "d" * 1200, 1100)


HOSTILE: dict[str, dict[str, Any]] = {
    "subject-id-1024": {"subject": {"type": "agent", "id": "s" * 1024}},
    "action-256": {"action": {"name": "a" * 256}},
    "resource-type-and-id": {"resource": {"type": "t" * 256, "id": "r" * 1024}},
    "subject-id-nul": {"subject": {"type": "agent", "id": "a\x00b"}},
    "action-nul": {"action": {"name": "re\x00ad"}},
    "resource-multibyte": {"resource": {"type": "doc", "id": "".join(chr(0x4E00 + i) for i in range(1000))}},
}


def _body(overrides: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "subject": {"type": "agent", "id": "bot"},
        "action": {"name": "read"},
        "resource": {"type": "doc", "id": "x"},
    }
    return {**base, **overrides}


@pytest.fixture
def live(remit: Remit) -> Iterator[LiveServer]:
    with serve(remit) as server:
        yield server


@pytest.fixture
def admin_client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_token) as client:
        yield client


def test_hostile_values_are_decided_recorded_and_verified(admin_client: httpx.Client, live: LiveServer) -> None:
    # on PostgreSQL each of these was a 503 audit_unavailable: the record did not fit its columns
    for name, overrides in HOSTILE.items():
        r = admin_client.post(EVALUATION, json=_body(overrides))
        assert r.status_code == 200, (name, r.text)
        assert r.json()["decision"] is False
    # a batch of them, with an ordinary one: every decision answered
    batch = {"evaluations": [_body(o) for o in HOSTILE.values()] + [_body({})]}
    r = admin_client.post("/access/v1/evaluations", json=batch)
    assert r.status_code == 200, r.text
    assert len(r.json()["evaluations"]) == len(HOSTILE) + 1
    records = admin_client.get("/v1/audit", params={"kind": "decision", "limit": 100}).json()["items"]
    assert len(records) == 2 * (len(HOSTILE) + 1) - 1
    subjects = {rec["principal"]["id"] for rec in records}
    assert "s" * 1024 in subjects and "a\x00b" in subjects  # the text keeps every value as it was
    report = live.remit.audit.verify(ADMIN)
    assert report.ok, report


def _raw(member: str) -> bytes:
    """A body whose ``member`` replaces its namesake; encoded as it stands, an unpaired surrogate included."""
    members = {
        "subject": '"subject": {"type": "agent", "id": "b"}',
        "action": '"action": {"name": "read"}',
        "resource": '"resource": {"type": "d", "id": "x"}',
    }
    name = member.split('"', 2)[1]
    members[name] = member
    return ("{" + ", ".join(members.values()) + "}").encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(
    "raw",
    [
        _raw('"subject": {"type": "agent", "id": "\\ud800"}'),
        _raw('"resource": {"type": "d", "id": "\\udfff"}'),
        _raw('"context": {"note": "\\udc00 alone"}'),
        _raw('"resource": {"type": "d", "id": "\ud800"}'),  # the surrogate itself, encoded (CESU-8)
    ],
    ids=["escaped-subject", "escaped-resource", "escaped-context", "encoded"],
)
def test_an_unpaired_surrogate_is_refused_as_not_text(admin_client: httpx.Client, raw: bytes) -> None:
    # it was a 503 on SQLite and PostgreSQL alike: the record could not be encoded as UTF-8
    for path in (EVALUATION, "/access/v1/search/resource"):
        r = admin_client.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert (r.json()["code"], r.json()["field"]) == ("invalid_authzen_request", "body")
    paired = json.dumps(_body({"resource": {"type": "doc", "id": "\U0001f600"}})).encode()  # \ud83d\ude00: one char
    assert b"\\ud83d\\ude00" in paired
    assert (
        admin_client.post(EVALUATION, content=paired, headers={"content-type": "application/json"}).status_code == 200
    )


def test_a_value_stored_whole_before_it_was_keyed_still_verifies(
    admin_client: httpx.Client, live: LiveServer, database_url: str
) -> None:
    """SQLite holds any length, so a log written before keying holds long values whole; PostgreSQL refused them."""
    if not database_url.startswith("sqlite"):
        pytest.skip("only SQLite could have stored a value longer than its column")
    long_id = "s" * 1024
    assert admin_client.post(EVALUATION, json=_body({"subject": {"type": "agent", "id": long_id}})).status_code == 200
    with live.remit.engine.begin() as conn:
        seq = conn.execute(text("SELECT seq FROM audit_events WHERE agent = :k"), {"k": index_key(long_id, 200)})
        (row,) = seq.all()
        conn.execute(text("UPDATE audit_events SET agent = :v WHERE seq = :s"), {"v": long_id, "s": row[0]})
    assert live.remit.audit.verify(ADMIN).ok
    # a column changed to anything else is still caught
    with live.remit.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET agent = :v WHERE seq = :s"), {"v": "t" * 1024, "s": row[0]})
    report = live.remit.audit.verify(ADMIN)
    assert not report.ok and report.at_seq == row[0]
    assert "column agent" in (report.problem or "")
