"""The demo estate's guardrails decide as the README says they do."""

from __future__ import annotations

from typing import Any

import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.demo.estate import seed
from remit.policy.model import DenyCode

CASES: list[tuple[str, str, tuple[str, str], dict[str, Any], DenyCode | None, tuple[str, ...]]] = [
    (
        "support-ticket-summariser",
        "call_tool",
        ("tool", "helpdesk.list_tickets"),
        {},
        None,
        ("role:ticket-queue-reader#0",),
    ),
    ("support-ticket-summariser", "call_tool", ("tool", "helpdesk.close_ticket"), {}, DenyCode.NO_PERMIT, ()),
    (
        "refund-processor",
        "write",
        ("endpoint", "billing.create_refund"),
        {"arguments": {"amount": 120}},
        None,
        ("role:refund-issuer#1",),
    ),
    (
        "refund-processor",
        "write",
        ("endpoint", "billing.create_refund"),
        {"arguments": {"amount": 900}},
        DenyCode.FORBIDDEN,
        ("refunds-under-500",),
    ),
    ("legacy-crm-sync", "read", ("endpoint", "crm.get_customer"), {}, DenyCode.AGENT_INACTIVE, ()),
    ("shadow-bot", "read", ("endpoint", "crm.get_customer"), {}, DenyCode.UNREGISTERED_AGENT, ()),
    (
        "release-manager-bot",
        "call_tool",
        ("tool", "github.merge_pull_request"),
        {},
        DenyCode.FORBIDDEN,
        ("no-unattended-merges",),
    ),
    (
        "release-manager-bot",
        "call_tool",
        ("tool", "github.merge_pull_request"),
        {"approved_by": "bob"},
        None,
        ("role:release-engineer#0",),
    ),
    ("customer-lookup-assistant", "read", ("endpoint", "crm.get_customer"), {}, None, ("role:crm-reader#1",)),
    (
        "customer-lookup-assistant",
        "read",
        ("dataset", "crm.customer_export"),
        {},
        DenyCode.FORBIDDEN,
        ("restricted-needs-clearance",),
    ),
    ("security-triage-agent", "read", ("dataset", "crm.customer_export"), {}, None, ("role:incident-responder#0",)),
]


@pytest.fixture
def demo(remit: Remit) -> Remit:
    seed(remit, AdminPrincipal(actor="test:demo", role=AdminRole.ADMIN))
    return remit


def test_demo_decisions(demo: Remit) -> None:
    authz = demo.authorizer()
    assert demo.policies.status(AdminPrincipal(actor="t", role=AdminRole.AUDITOR)).control.active_policy_version == 1
    for agent, action, resource, context, code, reasons in CASES:
        d = authz.check(("agent", agent), action, resource, context)
        assert (d.allowed, d.deny_code, d.reasons) == (code is None, code, reasons), (agent, action, resource)
