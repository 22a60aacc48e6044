"""The live-server fixtures of the API tests, and a small estate to ask decisions about."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.registry.models import Permission, ResourceKind
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserDraft
from tests.api.conftest import admin_client, live, mint

__all__ = ["Samples", "admin_client", "ask", "estate", "live", "mint", "scrape"]

ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)

#: (sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def estate(remit: Remit) -> None:
    """alice owns the agent bot, which may ``read`` the MCP server helpdesk (role reader); nothing else."""
    registry = remit.registry
    registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    registry.create_agent(ADMIN, AgentDraft(name="bot", owner="alice"))
    registry.create_resource(ADMIN, ResourceDraft(id="helpdesk", kind=ResourceKind.MCP_SERVER))
    registry.create_role(ADMIN, RoleDraft(name="reader", permissions=(Permission(("read",), "helpdesk"),)))
    registry.assign_agent(ADMIN, "reader", "bot", member=True)
    remit.refresher.refresh()


def ask(agent: str, action: str) -> dict[str, Any]:
    """An AuthZEN evaluation request: may ``agent`` do ``action`` on the helpdesk?"""
    return {
        "subject": {"type": "agent", "id": agent},
        "action": {"name": action},
        "resource": {"type": "mcp_server", "id": "helpdesk"},
    }


def scrape(client: httpx.Client) -> Samples:
    """``GET /metrics``, parsed: every sample by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
