"""The demo estate: users, HTTP apps, MCP servers and tools, datasets, roles and a dozen agents.

Created through the services, so every object has its change events like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.paging import PageRequest
from remit.registry.models import AgentAction, Attributes, Permission, ResourceKind, RiskTier, Sensitivity, UserStatus
from remit.registry.ports import AgentFilter
from remit.registry.service import AgentDraft, ResourceDraft, RoleDraft, UserChanges, UserDraft

POLICIES = Path(__file__).with_name("policies.cedar")
SCHEMA = Path(__file__).with_name("schema.json")
SUMMARISER = "support-ticket-summariser"
TICKET_READER = "ticket-queue-reader"
TICKET_READING_TOOLS = ("helpdesk.list_tickets", "helpdesk.get_ticket")

#: id, email, display name, title
USERS = [
    ("alice", "alice.chen@example.com", "Alice Chen", "Head of Customer Support"),
    ("bob", "bob.martins@example.com", "Bob Martins", "Platform Engineer"),
    ("carol", "carol.diaz@example.com", "Carol Diaz", "Finance Operations Lead"),
    ("dan", "dan.okafor@example.com", "Dan Okafor", "Data Science Manager"),
    ("erin", "erin.walsh@example.com", "Erin Walsh", "Security Engineer"),
    ("frank", "frank.liu@example.com", "Frank Liu", "Former Support Engineer"),
]
DISABLED_USER = "frank"

_A, _E, _M, _T, _D = (
    ResourceKind.APP,
    ResourceKind.ENDPOINT,
    ResourceKind.MCP_SERVER,
    ResourceKind.TOOL,
    ResourceKind.DATASET,
)
_PUB, _INT, _CONF, _RESTR = Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED
_PII, _FIN, _SRC = ("customer_pii",), ("financial",), ("source_code",)
_LOW, _MED, _HIGH, _CRIT = RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL


def _res(
    rid: str,
    kind: ResourceKind,
    parent: str | None,
    name: str,
    sens: Sensitivity,
    classes: tuple[str, ...],
    **attrs: str,
) -> ResourceDraft:
    return ResourceDraft(
        id=rid,
        kind=kind,
        parent=parent,
        display_name=name,
        sensitivity=sens,
        data_classes=classes,
        attributes=_attrs(attrs),
    )


def _attrs(attrs: dict[str, str]) -> Attributes:
    return dict(attrs)


def _p(actions: str, resource: str) -> Permission:
    return Permission(actions=tuple(actions.split(",")), resource=resource)


# fmt: off
RESOURCES: list[ResourceDraft] = [
    _res("crm", _A, None, "CRM", _CONF, _PII, base_url="https://crm.internal.example.com"),
    _res("crm.list_customers", _E, "crm", "List customers", _CONF, _PII, method="GET", path="/customers"),
    _res("crm.get_customer", _E, "crm", "Get a customer", _CONF, _PII, method="GET", path="/customers/{id}"),
    _res("crm.update_customer", _E, "crm", "Update a customer", _CONF, _PII, method="PATCH", path="/customers/{id}"),
    _res("crm.customer_export", _D, "crm", "Nightly customer export", _RESTR, _PII),
    _res("billing", _A, None, "Billing", _CONF, _FIN, base_url="https://billing.internal.example.com"),
    _res("billing.list_invoices", _E, "billing", "List invoices", _CONF, _FIN, method="GET", path="/invoices"),
    _res("billing.create_refund", _E, "billing", "Create a refund", _RESTR, _FIN, method="POST", path="/refunds"),
    _res("helpdesk", _M, None, "Helpdesk MCP server", _INT, _PII, transport="streamable-http"),
    _res("helpdesk.list_tickets", _T, "helpdesk", "List the tickets in the queue", _INT, _PII),
    _res("helpdesk.get_ticket", _T, "helpdesk", "Read one ticket", _INT, _PII),
    _res("helpdesk.update_ticket", _T, "helpdesk", "Update a ticket", _INT, _PII),
    _res("helpdesk.close_ticket", _T, "helpdesk", "Close a ticket", _INT, _PII),
    _res("github", _M, None, "GitHub MCP server", _INT, _SRC, transport="stdio"),
    _res("github.list_issues", _T, "github", "List issues", _INT, ()),
    _res("github.get_file", _T, "github", "Read a file", _INT, _SRC),
    _res("github.create_pull_request", _T, "github", "Open a pull request", _INT, _SRC),
    _res("github.merge_pull_request", _T, "github", "Merge a pull request", _CONF, _SRC),
    _res("warehouse", _D, None, "Analytics warehouse", _CONF, _PII + _FIN, engine="postgresql"),
    _res("status-page", _A, None, "Public status page", _PUB, (), base_url="https://status.example.com"),
]

#: name, description, permissions, user members
ROLES: list[tuple[str, str, tuple[Permission, ...], tuple[str, ...]]] = [
    (TICKET_READER, "Read the helpdesk ticket queue, nothing else",
     tuple(_p("read,call_tool", t) for t in TICKET_READING_TOOLS), ()),
    ("ticket-handler", "Work tickets: read, update and close", (_p("read,call_tool", "helpdesk"),), ("alice",)),
    ("crm-reader", "Look customers up in the CRM",
     (_p("read", "crm.list_customers"), _p("read", "crm.get_customer")), ()),
    ("billing-reader", "Read invoices", (_p("read", "billing.list_invoices"),), ("carol",)),
    ("refund-issuer", "Issue refunds", (_p("read", "billing.list_invoices"), _p("write", "billing.create_refund")), ()),
    ("code-reader", "Read issues and code",
     (_p("call_tool", "github.list_issues"), _p("call_tool", "github.get_file")), ()),
    ("release-engineer", "Open and merge pull requests", (_p("call_tool", "github"),), ("bob",)),
    ("warehouse-analyst", "Query the analytics warehouse", (_p("read", "warehouse"),), ("dan",)),
    ("incident-responder", "Read everything during an incident", (_p("read", "*"),), ("erin",)),
]

#: name, owner, team, environment, risk tier, clearance, framework, roles, purpose
AGENTS: list[tuple[str, str, str, str, RiskTier, int, str, tuple[str, ...], str]] = [
    (SUMMARISER, "alice", "support", "production", _LOW, 1, "langchain", (TICKET_READER,),
     "Summarises the new tickets in the helpdesk queue for the morning stand-up"),
    ("support-triage-bot", "alice", "support", "production", _MED, 2, "openai-agents", ("ticket-handler", "crm-reader"),
     "Tags, routes and closes duplicate tickets"),
    ("customer-lookup-assistant", "alice", "support", "production", _MED, 2, "mcp-client", ("crm-reader",),
     "Answers support engineers' questions about a customer's account"),
    ("refund-processor", "carol", "finance", "production", _HIGH, 3, "custom", ("refund-issuer", "crm-reader"),
     "Issues refunds approved by a support lead"),
    ("invoice-reconciler", "carol", "finance", "production", _MED, 2, "custom", ("billing-reader",),
     "Matches invoices against payments every night"),
    ("code-review-assistant", "bob", "platform", "production", _MED, 1, "openai-agents", ("code-reader",),
     "Reviews pull requests and comments on issues"),
    ("release-manager-bot", "bob", "platform", "production", _HIGH, 3, "langchain", ("release-engineer",),
     "Cuts releases: opens and merges release pull requests"),
    ("dependency-updater", "bob", "platform", "staging", _LOW, 1, "custom", ("code-reader",),
     "Proposes dependency upgrades"),
    ("warehouse-analyst", "dan", "data", "production", _HIGH, 4, "langchain", ("warehouse-analyst",),
     "Answers analysts' questions with SQL over the warehouse"),
    ("churn-forecaster", "dan", "data", "staging", _MED, 3, "custom", ("warehouse-analyst",),
     "Forecasts customer churn from warehouse data"),
    ("security-triage-agent", "erin", "security", "production", _CRIT, 5, "openai-agents", ("incident-responder",),
     "Triages security alerts and gathers evidence"),
    ("legacy-crm-sync", "bob", "platform", "production", _HIGH, 2, "custom", ("crm-reader",),
     "Copies CRM records to the old reporting system"),
]

#: name, verb, reason
STATUS_CHANGES = [
    ("churn-forecaster", AgentAction.SUSPEND, "paused while the Q3 churn model is retrained"),
    ("legacy-crm-sync", AgentAction.QUARANTINE,
     "anomalous bulk reads of crm.get_customer at 03:12 UTC; under investigation (INC-2041)"),
]
# fmt: on


@dataclass(frozen=True, slots=True)
class DemoSummary:
    users: int
    resources: int
    roles: int
    agents: int
    suspended: tuple[str, ...]
    quarantined: tuple[str, ...]


def has_agents(remit: Remit, principal: AdminPrincipal) -> bool:
    """Whether the estate holds any agent already (then the demo does not seed again)."""
    return bool(remit.registry.list_agents(principal, AgentFilter(), PageRequest(limit=1)).items)


def seed(remit: Remit, principal: AdminPrincipal) -> DemoSummary:
    """Create the demo estate through the services, as ``principal``."""
    reg = remit.registry
    for user_id, email, name, title in USERS:
        reg.create_user(principal, UserDraft(id=user_id, email=email, display_name=name, attributes={"title": title}))
    reg.update_user(principal, DISABLED_USER, UserChanges(status=UserStatus.DISABLED))
    for resource in RESOURCES:
        reg.create_resource(principal, resource)
    for name, description, permissions, users in ROLES:
        reg.create_role(principal, RoleDraft(name=name, description=description, permissions=permissions))
        for user_id in users:
            reg.assign_user(principal, name, user_id, True)
    for name, owner, team, env, tier, clearance, framework, roles, purpose in AGENTS:
        draft = AgentDraft(
            name=name,
            owner=owner,
            purpose=purpose,
            team=team,
            environment=env,
            risk_tier=tier,
            clearance=clearance,
            attributes={"framework": framework},
        )
        reg.create_agent(principal, draft)
        for role in roles:
            reg.assign_agent(principal, role, name, True)
    for name, verb, reason in STATUS_CHANGES:
        reg.change_agent_status(principal, name, verb, reason)
    remit.policies.apply(
        principal,
        POLICIES.read_text(encoding="utf-8"),
        schema_fragment=json.loads(SCHEMA.read_text(encoding="utf-8")),
        comment="demo guardrails",
    )
    return DemoSummary(
        users=len(USERS),
        resources=len(RESOURCES),
        roles=len(ROLES),
        agents=len(AGENTS),
        suspended=tuple(n for n, v, _ in STATUS_CHANGES if v is AgentAction.SUSPEND),
        quarantined=tuple(n for n, v, _ in STATUS_CHANGES if v is AgentAction.QUARANTINE),
    )
