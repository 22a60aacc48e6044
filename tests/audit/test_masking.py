"""Secrets never reach the audit log: the masker walks the whole record, masks members named like secrets and
configured paths whole, and credentials inside any text in place; ``masked`` lists every member it changed."""

from __future__ import annotations

import copy
from typing import Any

from remit.audit.mask import MASK, Masker

ADMIN_TOKEN = "remit_adm_" + "Q" * 20 + "w" * 23
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"


def test_secret_members_and_credential_values_are_masked_and_listed() -> None:
    record: dict[str, Any] = {
        "id": "dec_1",
        "context": {
            "environment": "production",
            "headers": {"Authorization": "Bearer abc.def.ghi", "X-Trace": "t-1"},
            "arguments": {"api_key": "k-123", "query": "open tickets", "note": ADMIN_TOKEN},
            "tokens": [JWT, "plain"],
            "db_password": "hunter2",
            "password_hint": "",  # empty: nothing to hide
        },
    }
    masked = Masker().mask(record)
    ctx = masked["context"]
    assert ctx["environment"] == "production"
    assert ctx["headers"] == {"Authorization": MASK, "X-Trace": "t-1"}
    assert ctx["arguments"] == {"api_key": MASK, "query": "open tickets", "note": "[masked:remit_adm]"}
    assert ctx["tokens"] == ["[masked:jwt]", "plain"]
    assert ctx["db_password"] == MASK
    assert masked["masked"] == [
        "context.arguments.api_key",
        "context.arguments.note",
        "context.db_password",
        "context.headers.Authorization",
        "context.tokens.0",
    ]
    assert record["context"]["db_password"] == "hunter2"  # the caller's object is not changed


def test_a_token_inside_a_longer_string_is_masked_and_the_rest_kept() -> None:
    record = {"id": "evt_1", "kind": "change", "reason": f"key is {ADMIN_TOKEN}, rotate it"}
    masked = Masker().mask(record)
    assert masked["reason"] == "key is [masked:remit_adm], rotate it"
    assert masked["masked"] == ["reason"]


def test_every_member_is_walked_not_a_list_of_known_ones() -> None:
    """Reasons, snapshots, extras, and members no event has yet: free text anywhere in the record is masked."""
    record: dict[str, Any] = {
        "schema": "remit.audit/v1",
        "id": "evt_1",
        "at": "2026-01-01T00:00:00.000000Z",
        "kind": "change",
        "action": "agent.update",
        "actor": "token:tok_1",
        "target": {"type": "agent", "id": "bot"},
        "reason": f"see {JWT}",
        "before": {"purpose": "summarises tickets"},
        "after": {"purpose": f"summarises tickets; key {ADMIN_TOKEN}", "attributes": {"notes": [f"aws {AWS_KEY}"]}},
        "extra": {"comment": f"token was {ADMIN_TOKEN}"},
        "a_member_added_later": {"deep": {"deeper": (f"x {JWT}",)}},
    }
    masked = Masker().mask(record)
    assert masked["reason"] == "see [masked:jwt]"
    assert masked["before"] == {"purpose": "summarises tickets"}
    assert masked["after"] == {
        "purpose": "summarises tickets; key [masked:remit_adm]",
        "attributes": {"notes": ["aws [masked:aws_access_key]"]},
    }
    assert masked["extra"] == {"comment": "token was [masked:remit_adm]"}
    assert masked["a_member_added_later"] == {"deep": {"deeper": ["x [masked:jwt]"]}}
    assert masked["masked"] == [
        "a_member_added_later.deep.deeper.0",
        "after.attributes.notes.0",
        "after.purpose",
        "extra.comment",
        "reason",
    ]
    for key in ("schema", "id", "at", "kind", "action", "actor", "target"):
        assert masked[key] == record[key]


def test_an_aws_key_nested_two_levels_deep_in_a_decision_context() -> None:
    record = {
        "id": "dec_1",
        "kind": "decision",
        "context": {"request": {"headers": {"x-debug": f"signed by {AWS_KEY}/20260101/us-east-1"}}, "risk": 3},
    }
    masked = Masker().mask(record)
    assert masked["context"] == {
        "request": {"headers": {"x-debug": "signed by [masked:aws_access_key]/20260101/us-east-1"}},
        "risk": 3,
    }
    assert masked["masked"] == ["context.request.headers.x-debug"]


def test_a_token_in_a_member_name_is_masked_and_the_member_kept() -> None:
    """A credential used as a member's name: the name is masked like any text, the value kept (and masked by its
    own content); names that become equal are told apart, so that no member is lost."""
    other = "remit_adm_" + "z" * 43
    record = {
        "id": "dec_1",
        "context": {ADMIN_TOKEN: True, other: {"scope": "all"}, "[masked:remit_adm]#2": "a name like ours", 7: "x"},
    }
    masked = Masker().mask(record)
    assert masked["context"] == {
        "[masked:remit_adm]": True,
        "[masked:remit_adm]#2": {"scope": "all"},
        "[masked:remit_adm]#2#2": "a name like ours",
        "7": "x",
    }
    assert masked["masked"] == ["context.[masked:remit_adm]", "context.[masked:remit_adm]#2"]


def test_the_envelope_and_the_verdict_are_left_alone() -> None:
    record = {
        "schema": "remit.audit/v1",
        "seq": 7,
        "id": "dec_P7dwHV0q3TnR0wS1bLk2xUaZ",
        "at": "2026-01-01T00:00:00.000000Z",
        "kind": "decision",
        "decision": {"allowed": False, "effect": "deny", "policies": ["no-risky"], "mode": "enforce"},
        "latency_us": 12.5,
    }
    assert Masker().mask(record) == record


def test_masking_twice_changes_nothing_and_keeps_what_was_listed() -> None:
    record = {"id": "x", "reason": f"leak {ADMIN_TOKEN}", "context": {"password": "hunter2", "n": JWT}}
    once = Masker().mask(record)
    twice = Masker().mask(once)
    assert twice == once
    assert twice["masked"] == ["context.n", "context.password", "reason"]


def test_configured_paths_with_wildcards() -> None:
    masker = Masker.from_paths(["context.arguments.card_number", "properties.subject.*", "reason"])
    record = {
        "context": {"arguments": {"card_number": "4111111111111111", "amount": 12}},
        "properties": {"subject": {"email": "a@example.org", "team": "x"}},
        "reason": "card on file",
    }
    masked = masker.mask(record)
    assert masked["context"]["arguments"] == {"card_number": MASK, "amount": 12}
    assert masked["properties"]["subject"] == {"email": MASK, "team": MASK}
    assert masked["reason"] == MASK
    assert masked["masked"] == [
        "context.arguments.card_number",
        "properties.subject.email",
        "properties.subject.team",
        "reason",
    ]


def test_a_clean_record_is_left_as_it_is() -> None:
    record = {
        "context": {"risk": 10, "environment": "production", "source_ip": "10.0.0.1", "owner": "alice@example.org"},
        "decision": {"allowed": True},
        "principal": {"type": "Agent", "id": "support-bot"},
    }
    original = copy.deepcopy(record)
    masked = Masker().mask(record)
    assert masked == record == original
    assert "masked" not in masked
    assert masked["context"] is not record["context"]  # a copy: later changes to the caller's object do not leak in


def test_admin_change_records_mask_secrets_in_before_and_after() -> None:
    record = {"before": {"client_secret": "s3cr3t"}, "after": {"name": "ci"}}
    assert Masker().mask(record)["before"] == {"client_secret": MASK}
