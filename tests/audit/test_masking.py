"""Secrets never reach the audit log: members named like secrets, values shaped like credentials, configured paths."""

from __future__ import annotations

from typing import Any

from remit.audit.record import MASK, Masker


def test_secret_members_and_credential_values_are_masked_and_listed() -> None:
    record: dict[str, Any] = {
        "id": "dec_1",
        "context": {
            "environment": "production",
            "headers": {"Authorization": "Bearer abc.def.ghi", "X-Trace": "t-1"},
            "arguments": {"api_key": "k-123", "query": "open tickets", "note": "remit_adm_" + "x" * 30},
            "tokens": ["eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ.c2ln", "plain"],
            "db_password": "hunter2",
            "password_hint": "",  # empty: nothing to hide
        },
    }
    masked = Masker().mask(record)
    ctx = masked["context"]
    assert ctx["environment"] == "production"
    assert ctx["headers"] == {"Authorization": MASK, "X-Trace": "t-1"}
    assert ctx["arguments"] == {"api_key": MASK, "query": "open tickets", "note": MASK}
    assert ctx["tokens"] == [MASK, "plain"]
    assert ctx["db_password"] == MASK
    assert masked["masked"] == [
        "context.arguments.api_key",
        "context.arguments.note",
        "context.db_password",
        "context.headers.Authorization",
        "context.tokens.0",
    ]
    assert record["context"]["db_password"] == "hunter2"  # the caller's object is not changed


def test_configured_paths_with_wildcards() -> None:
    masker = Masker.from_paths(["context.arguments.card_number", "properties.subject.*"])
    record = {
        "context": {"arguments": {"card_number": "4111111111111111", "amount": 12}},
        "properties": {"subject": {"email": "a@example.org", "team": "x"}},
    }
    masked = masker.mask(record)
    assert masked["context"]["arguments"] == {"card_number": MASK, "amount": 12}
    assert masked["properties"]["subject"] == {"email": MASK, "team": MASK}
    assert masked["masked"] == [
        "context.arguments.card_number",
        "properties.subject.email",
        "properties.subject.team",
    ]


def test_a_clean_record_is_left_as_it_is() -> None:
    record = {"context": {"risk": 10, "environment": "production"}, "decision": {"allowed": True}}
    assert Masker().mask(record) == record
    assert "masked" not in Masker().mask(record)


def test_admin_change_records_mask_secrets_in_before_and_after() -> None:
    record = {"before": {"client_secret": "s3cr3t"}, "after": {"name": "ci"}}
    assert Masker().mask(record)["before"] == {"client_secret": MASK}
