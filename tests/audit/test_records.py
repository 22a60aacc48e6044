"""What a decision record and a change record hold, made through the real engine and registry."""

from __future__ import annotations

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.audit.log import AuditUnavailable
from remit.audit.record import MASK
from remit.container import Remit
from remit.paging import PageRequest
from remit.policy import Authorizer
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from remit.store.audit import AuditFilter
from tests.api.conftest import serve
from tests.conftest import OwnerFactory

POLICY = '@id("no-risky")\nforbid(principal, action, resource) when { context has risk && context.risk > 80 };'


def _estate(remit: Remit, admin: AdminPrincipal) -> None:
    r = remit.registry
    r.create_user(admin, UserDraft(id="alice", email="alice@example.org"))
    r.create_user(admin, UserDraft(id="bob", email="bob@example.org"))
    r.create_agent(admin, AgentDraft(name="bot", owner="alice"))
    r.create_agent(admin, AgentDraft(name="other", owner="bob"))
    r.create_resource(admin, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    r.create_resource(admin, ResourceDraft(id="helpdesk.get", kind=ResourceKind.TOOL, parent="helpdesk"))
    r.create_role(admin, RoleDraft(name="reader", permissions=(Permission(("call_tool",), "helpdesk"),)))
    r.assign_agent(admin, "reader", "bot", member=True)
    remit.policies.apply(admin, POLICY)


def test_a_decision_record_says_who_what_why_and_masks_secrets(remit: Remit, admin: AdminPrincipal) -> None:
    _estate(remit, admin)
    authz = remit.authorizer()
    allowed = authz.check(
        ("agent", "bot"),
        "call_tool",
        ("tool", "helpdesk.get"),
        {"risk": 10, "on_behalf_of": ["user:carol"], "arguments": {"ticket": 7, "api_key": "k-1"}},
    )
    denied = authz.check(("agent", "bot"), "call_tool", ("tool", "helpdesk.get"), {"risk": 95})
    assert allowed.allowed and not denied.allowed
    records = remit.audit.query(admin, AuditFilter(kind="decision"), PageRequest(limit=10)).items
    by_id = {r["id"]: r for r in records}
    first, second = by_id[allowed.decision_id], by_id[denied.decision_id]
    assert first["principal"] == {"type": "Agent", "id": "bot", "owner": "alice", "on_behalf_of": ["user:carol"]}
    assert first["resource"] == {"type": "Tool", "id": "helpdesk.get"}
    assert first["source"] == "sdk" and first["action"] == "call_tool"
    assert first["decision"]["allowed"] is True and first["decision"]["policies"] == ["role:reader#0"]
    assert first["context"]["arguments"] == {"ticket": 7, "api_key": MASK}
    assert first["masked"] == ["context.arguments.api_key"]
    assert second["decision"] == {
        "allowed": False,
        "effect": "deny",
        "policies": ["no-risky"],
        "policy_version": allowed.policy_version,
        "mode": "enforce",
        "deny_code": "forbidden",
    }
    assert isinstance(second["latency_us"], float)


def test_an_owner_reads_the_records_of_their_own_agents_changes_included(
    remit: Remit, admin: AdminPrincipal, make_owner: OwnerFactory
) -> None:
    _estate(remit, admin)
    authz = remit.authorizer()
    authz.check(("agent", "bot"), "call_tool", ("tool", "helpdesk.get"), {"risk": 1})
    authz.check(("agent", "other"), "call_tool", ("tool", "helpdesk.get"), {"risk": 1})
    seen = remit.audit.query(make_owner("alice"), AuditFilter(), PageRequest(limit=50)).items
    assert sorted((r["kind"], r["action"]) for r in seen) == [("change", "agent.create"), ("decision", "call_tool")]
    assert {r.get("owner") or r["principal"]["owner"] for r in seen} == {"alice"}
    assert {(r.get("target") or r["principal"])["id"] for r in seen} == {"bot"}


def test_a_decision_the_log_cannot_take_is_refused_with_503_not_answered(remit: Remit, admin: AdminPrincipal) -> None:
    _estate(remit, admin)
    with serve(remit) as live:
        _, secret = remit.admin_tokens.create(admin, name="pep", role=AdminRole.PEP)
        body = {
            "subject": {"type": "agent", "id": "bot"},
            "action": {"name": "call_tool"},
            "resource": {"type": "tool", "id": "helpdesk.get"},
            "context": {"risk": 1},
        }
        with live.client(secret) as pep:
            assert pep.post("/access/v1/evaluation", json=body).json()["decision"] is True
            remit.audit_log.stop()  # the writer is gone: nothing can be recorded
            refused = pep.post("/access/v1/evaluation", json=body)
            assert refused.status_code == 503
            assert refused.json()["code"] == "audit_unavailable"
            assert "decision" not in refused.json()
    # in process too: the decision is not returned (remit.authorizer() would restart the log; this one does not)
    authz = Authorizer(remit.pdp, recorder=remit.decision_recorder)
    with pytest.raises(AuditUnavailable):
        authz.check(("agent", "bot"), "call_tool", ("tool", "helpdesk.get"))


def test_timestamps_are_the_strftime_text_they_replaced() -> None:
    """``timestamp`` cuts ``isoformat``'s offset rather than calling ``strftime`` (cheaper): the same text."""
    import random
    from datetime import UTC, datetime, timedelta, timezone

    from remit.audit.record import timestamp

    rng = random.Random(7)
    for _ in range(5000):
        at = datetime(
            rng.randint(1000, 9998),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, rng.randint(0, 999_999)]),
            tzinfo=timezone(timedelta(minutes=rng.randint(-900, 900))),
        )
        assert timestamp(at) == at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
