"""Audit records as OCSF events: the class chosen for each kind of record, the common members, nothing lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from remit import __version__
from remit.admin.access import AdminPrincipal
from remit.audit.decisions import decision_record
from remit.audit.events import ChangeEvent
from remit.audit.ocsf import OCSF_VERSION, to_ocsf
from remit.audit.record import canonical, change_record, with_seq
from remit.clock import FrozenClock
from remit.container import Remit
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode
from tests.audit.test_api import build

AT = datetime(2026, 11, 28, 18, 0, 0, 123456, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)


def decision(
    allowed: bool,
    *,
    source: str = "authzen",
    action: str = "call_tool",
    context: dict[str, Any] | None = None,
    outcome: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request = AuthzRequest(
        principal=EntityRef("Agent", "support-bot"),
        action=action,
        resource=EntityRef("Tool", "helpdesk.get_ticket"),
        context=context or {},
    )
    verdict = Decision(
        decision_id="dec_abc",
        allowed=allowed,
        effect=Effect.ALLOW if allowed else Effect.DENY,
        policy_version=3,
        mode=Mode.ENFORCE,
        reasons=("support-reads",) if allowed else ("no-pii",),
        deny_code=None if allowed else DenyCode.FORBIDDEN,
    )
    body = decision_record(request, verdict, at=AT, source=source, actor="token:tok_pep", state=None, outcome=outcome)
    return with_seq(body, 42)


def change(action: str, target_type: str, target_id: str) -> dict[str, Any]:
    event = ChangeEvent(
        id="evt_1",
        at=AT,
        actor="local:alice",
        action=action,
        target_type=target_type,
        target_id=target_id,
        before={"status": "active"},
        after={"status": "suspended"},
        reason="incident 7",
    )
    return with_seq(change_record(event), 7)


def test_a_decision_is_an_authorize_session() -> None:
    event = to_ocsf(decision(True, context={"source_ip": "192.0.2.7", "ticket": 12}))
    assert (event["class_uid"], event["category_uid"], event["activity_id"], event["type_uid"]) == (3003, 3, 1, 300301)
    assert (event["class_name"], event["activity_name"]) == ("Authorize Session", "Assign Privileges")
    assert event["time"] == AT_MS
    assert (event["status"], event["status_id"], event["severity_id"]) == ("Success", 1, 1)
    assert event["user"] == {"uid": "support-bot", "name": "support-bot", "type": "Agent", "type_id": 99}
    assert event["privileges"] == ["call_tool"]
    assert event["actor"] == {
        "user": event["user"],
        "authorizations": [{"decision": "Allow", "policy": {"uid": "support-reads", "name": "support-reads"}}],
        "app_uid": "token:tok_pep",
        "app_name": "authzen",
    }
    assert event["src_endpoint"] == {"ip": "192.0.2.7"}
    assert event["metadata"] == {
        "version": OCSF_VERSION,
        "product": {"name": "Remit", "vendor_name": "Remit", "version": __version__},
        "uid": "dec_abc",
        "original_time": "2026-11-28T18:00:00.123456Z",
        "log_name": "remit.audit",
        "event_code": "call_tool",
        "sequence": 42,
    }
    assert event["message"] == "Agent::support-bot call_tool Tool::helpdesk.get_ticket: allowed"
    # what OCSF has no place for travels in unmapped: the resource, the decision's detail, the context
    assert event["unmapped"]["resource"] == {"type": "Tool", "id": "helpdesk.get_ticket"}
    assert event["unmapped"]["decision"]["policy_version"] == 3
    assert event["unmapped"]["context"] == {"source_ip": "192.0.2.7", "ticket": 12}
    assert "raw_data" not in event


def test_a_deny_is_a_failure_with_its_code() -> None:
    event = to_ocsf(decision(False))
    assert (event["status"], event["status_id"], event["status_code"]) == ("Failure", 2, "forbidden")
    assert event["actor"]["authorizations"] == [{"decision": "Deny", "policy": {"uid": "no-pii", "name": "no-pii"}}]
    assert event["message"].endswith(": denied")
    assert "src_endpoint" not in event


@pytest.mark.parametrize(("action", "activity"), [("read", 2), ("write", 3), ("delete", 4), ("call_tool", 99)])
def test_a_gateway_decision_is_api_activity(action: str, activity: int) -> None:
    event = to_ocsf(decision(True, source="gateway", action=action, outcome={"status": 502}))
    assert (event["class_uid"], event["category_uid"], event["activity_id"]) == (6003, 6, activity)
    assert event["type_uid"] == 600300 + activity
    assert event["api"] == {
        "operation": action,
        "service": {"name": "helpdesk.get_ticket", "uid": "Tool::helpdesk.get_ticket"},
        "request": {"uid": "dec_abc"},
    }
    assert event["resources"] == [{"uid": "helpdesk.get_ticket", "type": "Tool", "name": "helpdesk.get_ticket"}]
    assert event["http_response"] == {"code": 502}
    assert event["actor"]["app_name"] == "gateway"
    assert event["status_id"] == 1


@pytest.mark.parametrize(
    ("action", "target", "activity"),
    [
        ("agent.create", "agent", (1, "Create")),
        ("agent.resume", "agent", (2, "Enable")),
        ("agent.suspend", "agent", (5, "Disable")),
        ("agent.quarantine", "agent", (5, "Disable")),
        ("agent.retire", "agent", (6, "Delete")),
        ("user.create", "user", (1, "Create")),
    ],
)
def test_account_changes(action: str, target: str, activity: tuple[int, str]) -> None:
    event = to_ocsf(change(action, target, "bot"))
    assert (event["class_uid"], event["category_uid"]) == (3001, 3)
    assert (event["activity_id"], event["activity_name"]) == activity
    assert event["type_uid"] == 300100 + activity[0]
    assert event["user"]["uid"] == "bot"
    assert event["user"]["type_id"] == (1 if target == "user" else 99)
    assert event["actor"] == {"user": {"uid": "local:alice", "name": "local:alice"}}
    assert (event["status"], event["status_id"]) == ("Success", 1)
    assert event["unmapped"]["before"] == {"status": "active"}
    assert event["unmapped"]["reason"] == "incident 7"
    assert event["metadata"]["sequence"] == 7


@pytest.mark.parametrize(
    ("action", "target", "activity"),
    [
        ("role.create", "role", 1),
        ("policy.apply", "policy", 1),
        ("policy.activate", "policy", 3),
        ("agent.update", "agent", 3),
        ("resource.delete", "resource", 4),
        ("admin_token.revoke", "admin_token", 4),
    ],
)
def test_other_changes_are_api_activity(action: str, target: str, activity: int) -> None:
    event = to_ocsf(change(action, target, "x"))
    assert (event["class_uid"], event["activity_id"]) == (6003, activity)
    assert event["api"]["operation"] == action
    assert event["resources"] == [{"uid": "x", "type": target}]
    assert event["actor"]["user"]["uid"] == "local:alice"
    assert "user" not in event


def test_a_source_ip_that_is_not_an_address_stays_unmapped() -> None:
    event = to_ocsf(decision(True, context={"source_ip": "not-an-ip"}))
    assert "src_endpoint" not in event
    assert event["unmapped"]["context"]["source_ip"] == "not-an-ip"
    v6 = to_ocsf(decision(True, context={"source_ip": "2001:DB8::1"}))
    assert v6["src_endpoint"] == {"ip": "2001:db8::1"}


def test_raw_data_when_asked() -> None:
    record = decision(True)
    assert to_ocsf(record, raw=True)["raw_data"] == canonical(record)


def test_a_record_of_a_future_kind_still_maps() -> None:
    record = {"schema": "remit.audit/v1", "seq": 1, "id": "tok_1", "at": "bad", "kind": "token", "action": "exchange"}
    event = to_ocsf(record)
    assert (event["class_uid"], event["activity_id"], event["time"]) == (6003, 99, 0)


def test_every_real_record_maps_to_json(remit: Remit, clock: FrozenClock, admin: AdminPrincipal) -> None:
    build(remit, clock)
    records = [json.loads(r.text) for r in remit.audit.chain(admin, 0, 100).records]
    events = [to_ocsf(r) for r in records]
    assert len(events) == len(records) > 10
    for record, event in zip(records, events, strict=True):
        json.dumps(event, allow_nan=False)
        assert event["metadata"]["uid"] == record["id"]
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert {"class_uid", "category_uid", "activity_id", "time", "severity_id", "metadata"} <= set(event)
    classes = {(r["kind"], e["class_uid"]) for r, e in zip(records, events, strict=True)}
    assert classes == {("decision", 3003), ("change", 3001), ("change", 6003)}
