"""A realistic agent estate for the policy benchmarks, written into a Remit store.

Two sizes (``small`` ~280 entities, ``large`` ~27k): human owners, agents with roles and attributes (team,
environment, risk tier, clearance, framework), MCP servers with their tools, HTTP apps with endpoints, and
datasets. Policy sets of any size on top: a base of 36 policies (20 generated from roles, 16 written: forbids on
attributes and live risk, ABAC conditions on context), grown with per-tool, per-agent, per-endpoint and
per-dataset rules of the kind a deployment accumulates, so that the slice one request can touch stays small.

Everything is seeded: the same size gives the same estate, policies and requests on every run.

The registry is written in one store transaction, in bulk, not object by object through ``RegistryService``:
the service commits each object durably (``synchronous=FULL``), which takes many minutes for 27k objects on a
slow disk and measures nothing this benchmark is about. Policies go through ``PolicyService.apply``, so every generated
policy is validated against the registry's schema exactly as an operator's would be.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.policy.compile import cedar_type
from remit.policy.model import AuthzRequest, EntityRef
from remit.registry.models import (
    Agent,
    AgentStatus,
    Permission,
    Resource,
    ResourceKind,
    RiskTier,
    Role,
    Sensitivity,
    User,
    UserStatus,
    spiffe_id,
)
from remit.store.repository import _agent_cols, _resource_cols, _user_cols
from remit.store.tables import AgentRow, ResourceRow, RoleAgentRow, UserRow

ADMIN = AdminPrincipal(actor="local:bench", role=AdminRole.ADMIN)
BASE_POLICIES = 36  #: 20 from the 10 roles + 16 written
ROLES = 10

TEAMS = ("support", "platform", "finance", "data", "security", "sales", "marketing", "legal")
ENVIRONMENTS = ("production",) * 16 + ("staging",) * 3 + ("development",)
FRAMEWORKS = ("langchain", "openai-agents", "mcp-client", "crewai", "custom")
MODELS = ("gpt-4o", "gpt-4.1-mini", "claude-sonnet", "llama-3-70b")
VENDORS = ("jira", "github", "slack", "confluence", "salesforce", "stripe", "pagerduty", "datadog", "zendesk", "gdrive")
VERBS = ("get", "list", "search", "create", "update", "delete", "comment", "export")
NOUNS = ("issue", "ticket", "file", "message", "record", "invoice", "incident", "page", "customer", "report")
DESTRUCTIVE = ("delete", "export")
SENSITIVITIES = (Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.INTERNAL, Sensitivity.CONFIDENTIAL)


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    users: int
    agents: int
    servers: int
    tools_per_server: int
    apps: int
    endpoints_per_app: int
    datasets: int

    @property
    def entities(self) -> int:
        return (
            self.users
            + ROLES
            + self.agents
            + self.servers * (1 + self.tools_per_server)
            + self.apps * (1 + self.endpoints_per_app)
            + self.datasets
        )


SIZES = {
    "small": Size(
        "small", users=20, agents=60, servers=8, tools_per_server=12, apps=6, endpoints_per_app=10, datasets=20
    ),
    "large": Size(
        "large", users=1500, agents=6000, servers=400, tools_per_server=30, apps=200, endpoints_per_app=30, datasets=890
    ),
}


@dataclass
class Estate:
    """What was written, kept for generating policies and requests."""

    size: Size
    users: list[str] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    tools: dict[str, list[str]] = field(default_factory=dict)  #: server -> its tool ids
    apps: list[str] = field(default_factory=list)
    endpoints: dict[str, list[str]] = field(default_factory=dict)  #: app -> its endpoint ids
    datasets: list[str] = field(default_factory=list)
    role_servers: dict[str, list[str]] = field(default_factory=dict)  #: role -> MCP servers it grants
    role_apps: dict[str, list[str]] = field(default_factory=dict)  #: role -> apps it grants

    @property
    def all_tools(self) -> list[str]:
        return [t for s in self.servers for t in self.tools[s]]

    @property
    def all_endpoints(self) -> list[str]:
        return [e for a in self.apps for e in self.endpoints[a]]


def build(remit: Remit, size: Size, *, seed: int = 7) -> Estate:
    """Write the estate of this size into the (empty) store behind ``remit``."""
    rng = random.Random(seed)
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    estate = Estate(size)
    users: list[User] = []
    for i in range(size.users):
        uid = f"user{i:04d}"
        users.append(
            User(
                id=uid,
                email=f"{uid}@example.com",
                display_name=f"User {i}",
                status=UserStatus.ACTIVE,
                created_at=now,
                updated_at=now,
                attributes={"department": TEAMS[i % len(TEAMS)], "title": rng.choice(("engineer", "manager", "lead"))},
            )
        )
        estate.users.append(uid)
    resources: list[Resource] = []

    def resource(
        rid: str, kind: ResourceKind, parent: str | None, sensitivity: Sensitivity, attrs: dict[str, Any]
    ) -> None:
        classes: tuple[str, ...] = ()
        if rng.random() < 0.3:
            classes = (rng.choice(("customer_pii", "financial", "source_code")),)
        resources.append(
            Resource(
                id=rid,
                kind=kind,
                display_name=rid.replace("-", " ").replace(".", " "),
                parent=parent,
                sensitivity=sensitivity,
                data_classes=classes,
                created_at=now,
                updated_at=now,
                attributes=attrs,
            )
        )

    for s in range(size.servers):
        vendor = VENDORS[s % len(VENDORS)]
        server = f"{vendor}-{TEAMS[s % len(TEAMS)]}-{s:03d}"
        estate.servers.append(server)
        resource(
            server, ResourceKind.MCP_SERVER, None, rng.choice(SENSITIVITIES), {"vendor": vendor, "transport": "http"}
        )
        tools: list[str] = []
        for t in range(size.tools_per_server):
            verb, noun = VERBS[t % len(VERBS)], NOUNS[(t // len(VERBS) + s) % len(NOUNS)]
            tool = f"{server}.{verb}_{noun}_{t}"
            sensitivity = Sensitivity.RESTRICTED if rng.random() < 0.05 else rng.choice(SENSITIVITIES)
            resource(
                tool, ResourceKind.TOOL, server, sensitivity, {"destructive": verb in DESTRUCTIVE, "rate_limit": 60}
            )
            tools.append(tool)
        estate.tools[server] = tools
    for a in range(size.apps):
        app = f"app-{TEAMS[a % len(TEAMS)]}-{a:03d}"
        estate.apps.append(app)
        resource(app, ResourceKind.APP, None, rng.choice(SENSITIVITIES), {"base_url": f"https://{app}.internal"})
        endpoints: list[str] = []
        for e in range(size.endpoints_per_app):
            method = ("GET", "GET", "POST", "PATCH", "DELETE")[e % 5]
            endpoint = f"{app}.{method.lower()}_{NOUNS[e % len(NOUNS)]}_{e}"
            resource(endpoint, ResourceKind.ENDPOINT, app, rng.choice(SENSITIVITIES), {"method": method, "path": "/x"})
            endpoints.append(endpoint)
        estate.endpoints[app] = endpoints
    for d in range(size.datasets):
        dataset = f"dataset-{TEAMS[d % len(TEAMS)]}-{d:04d}"
        estate.datasets.append(dataset)
        sensitivity = Sensitivity.RESTRICTED if d % 7 == 0 else Sensitivity.CONFIDENTIAL
        resource(
            dataset, ResourceKind.DATASET, estate.apps[d % len(estate.apps)], sensitivity, {"engine": "postgresql"}
        )

    # Ten roles, two permissions each: an MCP server's tools, or an app's endpoints (20 generated policies).
    roles: list[Role] = []
    for r in range(ROLES):
        name = f"{TEAMS[r % len(TEAMS)]}-role-{r}"
        servers = [estate.servers[(2 * r) % len(estate.servers)], estate.servers[(2 * r + 1) % len(estate.servers)]]
        perms: tuple[Permission, ...]
        if r < 7:
            perms = tuple(Permission(actions=("call_tool", "list_tools"), resource=s) for s in servers)
            estate.role_servers[name] = servers
            estate.role_apps[name] = []
        else:
            apps = [estate.apps[r % len(estate.apps)]]
            perms = (Permission(actions=("read", "write"), resource=apps[0]), Permission(("call_tool",), servers[0]))
            estate.role_servers[name] = servers[:1]
            estate.role_apps[name] = apps
        roles.append(Role(name=name, description=f"role {r}", permissions=perms, created_at=now, updated_at=now))
    estate.roles = roles

    agents: list[Agent] = []
    memberships: list[tuple[str, str]] = []
    for i in range(size.agents):
        team = TEAMS[i % len(TEAMS)]
        name = f"{team}-agent-{i:05d}"
        environment = ENVIRONMENTS[i % len(ENVIRONMENTS)]
        tier = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.MEDIUM, RiskTier.HIGH)[i % 4]
        if i % 97 == 0:
            tier = RiskTier.CRITICAL
        agent_roles = sorted({roles[i % ROLES].name, roles[(i * 7 + 3) % ROLES].name})
        agent = Agent(
            name=name,
            spiffe_id=spiffe_id("example.org", name),
            owner=estate.users[i % len(estate.users)],
            purpose=f"{team} automation {i}",
            status=AgentStatus.ACTIVE,
            status_reason="registered",
            team=team,
            environment=environment,
            risk_tier=tier,
            clearance=rng.randint(1, 5),
            created_at=now,
            updated_at=now,
            review_due_at=now + timedelta(days=90),
            attributes={
                "framework": rng.choice(FRAMEWORKS),
                "model": rng.choice(MODELS),
                "cost_center": f"cc-{i % 50}",
            },
            roles=tuple(agent_roles),
        )
        agents.append(agent)
        memberships.extend((role, name) for role in agent_roles)
    estate.agents = agents

    # One transaction, rows in bulk (executemany) with the repository's own column mapping.
    with remit.store.transaction() as tx:
        tx.s.execute(insert(UserRow), [_user_cols(u) for u in users])
        tx.s.execute(insert(ResourceRow), [_resource_cols(r) for r in resources])
        for role in roles:
            tx.insert_role(role)
        tx.s.execute(insert(AgentRow), [_agent_cols(a) for a in agents])
        tx.s.execute(insert(RoleAgentRow), [{"role": r, "agent": a} for r, a in memberships])
        tx.bump()
    return estate


# -- policies ---------------------------------------------------------------------------------------------

#: the 16 written policies of every set: guard rails on attributes and context, and a few ABAC permits
BASE_TEXT = """
@id("guard:non-production-no-confidential")
forbid (principal is Agent, action, resource)
when { principal.environment != "production" &&
       (resource.sensitivity == "confidential" || resource.sensitivity == "restricted") };

@id("guard:restricted-needs-clearance")
forbid (principal is Agent, action, resource)
when { resource.sensitivity == "restricted" && principal.clearance < 4 };

@id("guard:live-risk")
forbid (principal is Agent, action, resource)
when { context has risk && context.risk >= 80 };

@id("guard:environment-matches")
forbid (principal is Agent, action, resource)
when { context has environment && context.environment != principal.environment };

@id("guard:critical-tier-needs-a-human")
forbid (principal is Agent, action == Action::"call_tool", resource)
when { principal.risk_tier == "critical" }
unless { context has delegated_by };

@id("guard:pii-only-for-customer-teams")
forbid (principal is Agent, action == Action::"call_tool", resource is Tool)
when { resource.data_classes.contains("customer_pii") &&
       !(["support", "security", "sales"].contains(principal.team)) };

@id("guard:destructive-tools-need-clearance")
forbid (principal is Agent, action == Action::"call_tool", resource is Tool)
when { resource has destructive && resource.destructive && principal.clearance < 3 };

@id("guard:internal-network-only")
forbid (principal is Agent, action == Action::"call_tool", resource)
when { context has source_ip && !(context.source_ip like "10.*") };

@id("guard:dataset-writes-need-clearance")
forbid (principal is Agent, action in [Action::"write", Action::"delete"], resource is Dataset)
unless { principal.clearance >= 3 };

@id("public:read")
permit (principal is Agent, action == Action::"read", resource)
when { resource.sensitivity == "public" };

@id("listing:any-active-agent")
permit (principal is Agent, action == Action::"list_tools", resource is McpServer)
when { principal.status == "active" };

@id("security:read-everything-in-production")
permit (principal is Agent, action == Action::"read", resource)
when { principal.team == "security" && principal.clearance >= 4 && principal.environment == "production" };

@id("data:read-datasets")
permit (principal is Agent, action == Action::"read", resource is Dataset)
when { principal.team == "data" && principal.clearance >= 2 };

@id("finance:dataset-writes")
permit (principal is Agent, action == Action::"write", resource is Dataset)
when { principal.team == "finance" && principal.risk_tier != "high" };

@id("owners:read-their-agents-tools")
permit (principal is User, action == Action::"read", resource is Tool);

@id("support:low-risk-tier-tools")
permit (principal is Agent, action == Action::"call_tool", resource is Tool)
when { principal.team == "support" && principal.risk_tier == "low" && context has risk && context.risk < 20 };
"""


def policies(estate: Estate, total: int, *, seed: int = 11) -> str:
    """Policy text which, with the 20 role policies, makes ``total`` policies (at least 36).

    The rules beyond the base come in families, in rotation; within a family no two rules share a scope (one
    risk ceiling per tool, one grant per agent and tool, ...), as in a policy set people maintain. A family whose
    scopes run out (a small estate has few tools) hands its turn to the per-agent grants, which never do.
    """
    if total < BASE_POLICIES:
        raise ValueError(f"at least {BASE_POLICIES} policies")
    rng = random.Random(seed)
    tools = estate.all_tools
    covered = [t for r in estate.roles for s in estate.role_servers[r.name] for t in estate.tools[s]]
    endpoints = estate.all_endpoints
    roles = [r.name for r in estate.roles]
    agents = [a.name for a in estate.agents]

    def tool() -> str:  # half the tool rules sit on tools agents use (their roles' servers), half anywhere
        return rng.choice(covered if rng.random() < 0.5 else tools)

    def grant_tool() -> tuple[object, str]:
        a, t = rng.choice(agents), tool()
        return (a, t), (
            f'@id("grant:{a}:{t}")\n'
            f'permit (principal == Agent::"{a}", action == Action::"call_tool", resource == Tool::"{t}")\n'
            f'when {{ context has environment && context.environment == "production" }};'
        )

    def grant_endpoint() -> tuple[object, str]:
        a, e = rng.choice(agents), rng.choice(endpoints)
        return (a, e), (
            f'@id("grant:{a}:{e}")\n'
            f'permit (principal == Agent::"{a}", action in [Action::"read", Action::"write"], '
            f'resource == Endpoint::"{e}")\n'
            f'when {{ principal.environment == "production" }};'
        )

    def grant_dataset() -> tuple[object, str]:
        a, d = rng.choice(agents), rng.choice(estate.datasets)
        return (a, d), (
            f'@id("grant:{a}:{d}")\n'
            f'permit (principal == Agent::"{a}", action == Action::"read", resource == Dataset::"{d}")\n'
            f"when {{ context has risk && context.risk < 50 }};"
        )

    def role_tool() -> tuple[object, str]:
        r, t = rng.choice(roles), tool()
        return (r, t), (
            f'@id("abac:{r}:{t}")\n'
            f'permit (principal is Agent in Role::"{r}", action == Action::"call_tool", resource == Tool::"{t}")\n'
            f'when {{ principal.clearance >= {rng.randint(1, 4)} && principal.risk_tier != "critical" }};'
        )

    def ceiling() -> tuple[object, str]:
        t = tool()
        return t, (
            f'@id("ceiling:{t}")\n'
            f'forbid (principal is Agent, action == Action::"call_tool", resource == Tool::"{t}")\n'
            f"when {{ context has risk && context.risk >= {rng.randint(40, 79)} }};"
        )

    def role_endpoint() -> tuple[object, str]:
        r, e = rng.choice(roles), rng.choice(endpoints)
        return (r, e), (
            f'@id("endpoint:{r}:{e}")\n'
            f'permit (principal is Agent in Role::"{r}", action in [Action::"read", Action::"write"], '
            f'resource == Endpoint::"{e}")\n'
            f'when {{ principal.team == "{rng.choice(TEAMS)}" }};'
        )

    def floor() -> tuple[object, str]:
        d = rng.choice(estate.datasets)
        return d, (
            f'@id("floor:{d}")\n'
            f'forbid (principal is Agent, action == Action::"read", resource == Dataset::"{d}")\n'
            f"unless {{ principal.clearance >= {rng.randint(2, 5)} }};"
        )

    Family = Callable[[], tuple[object, str]]
    rotation: list[Family] = [
        grant_tool, grant_tool, grant_tool, grant_endpoint, role_tool, role_tool, ceiling, role_endpoint, floor,
        grant_dataset,
    ]  # fmt: skip
    fallbacks: list[Family] = [grant_tool, grant_endpoint, grant_dataset]
    used: dict[Family, set[object]] = {f: set() for f in rotation}
    exhausted: set[Family] = set()
    lines = [BASE_TEXT.strip()]
    n = 0
    while len(lines) - 1 < total - BASE_POLICIES:
        for family in [rotation[n % len(rotation)], *fallbacks]:
            if family in exhausted:
                continue
            for _attempt in range(200):
                key, text = family()
                if key not in used[family]:
                    used[family].add(key)
                    lines.append(text)
                    break
            else:
                exhausted.add(family)
                continue
            break
        else:
            raise ValueError(f"this estate has room for fewer than {total} distinct policies")
        n += 1
    return "\n\n".join(lines) + "\n"


# -- requests ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """One request in the three shapes the variants need."""

    engine: AuthzRequest  #: for ``PolicyEngine.evaluate``
    cedar: dict[str, Any]  #: for bare ``cedarpy.is_authorized``, built once
    authzen: dict[str, Any]  #: an AuthZEN evaluation body


def requests(estate: Estate, count: int, *, seed: int = 23) -> list[BenchRequest]:
    """Requests as agents make them: mostly tools their roles grant, some reads, some that must be denied."""
    rng = random.Random(seed)
    out: list[BenchRequest] = []
    for _ in range(count):
        agent = rng.choice(estate.agents)
        roll = rng.random()
        if roll < 0.75:  # a tool on a server one of its roles grants
            role = rng.choice(agent.roles)
            server = rng.choice(estate.role_servers[role])
            action, kind, rid = "call_tool", "tool", rng.choice(estate.tools[server])
        elif roll < 0.85:  # a tool nothing grants it
            action, kind, rid = "call_tool", "tool", rng.choice(estate.all_tools)
        elif roll < 0.95:  # reading an endpoint
            action, kind, rid = "read", "endpoint", rng.choice(estate.all_endpoints)
        else:
            action, kind, rid = "read", "dataset", rng.choice(estate.datasets)
        context: dict[str, Any] = {
            "environment": agent.environment if rng.random() < 0.95 else "production",
            "source_ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "risk": rng.choice((3, 8, 12, 15, 22, 30, 41, 55, 85)),
            "time": f"2026-01-05T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
        }
        principal = EntityRef("Agent", agent.name)
        resource = EntityRef(cedar_type(kind), rid)
        out.append(
            BenchRequest(
                engine=AuthzRequest(principal=principal, action=action, resource=resource, context=context),
                cedar={
                    "principal": principal.as_json(),
                    "action": {"type": "Action", "id": action},
                    "resource": resource.as_json(),
                    "context": context,
                },
                authzen={
                    "subject": {"type": "agent", "id": agent.name},
                    "action": {"name": action},
                    "resource": {"type": kind, "id": rid},
                    "context": context,
                },
            )
        )
    return out
