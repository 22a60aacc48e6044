"""The inventory: agents (non-human identities), their human owners, roles and resources.

Plain values and rules only; no I/O. Status changes are explicit transitions with reasons (``transition``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from remit.errors import InvalidTransition, ValidationError

#: attribute values the registry keeps: what Cedar can read as String, Long, Bool or Set<String>
AttrValue = str | int | bool | tuple[str, ...]
Attributes = dict[str, AttrValue]

AGENT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
USER_ID = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
ROLE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
RESOURCE_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._:-]{0,126}[A-Za-z0-9_])?$")
ATTR_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,255}$")

#: what those patterns allow, in words: every message about a name says this, never the regex
NAME_RULE = (
    "lowercase letters, digits, '.', '_' and '-', 1 to 64 characters, starting and ending with a letter or digit"
)
RESOURCE_ID_RULE = (
    "letters, digits, '.', '_', ':' and '-', 1 to 128 characters, starting with a letter or digit and ending with a "
    "letter, digit or '_'"
)
ATTR_KEY_RULE = "a lowercase letter, then lowercase letters, digits and '_', up to 63 characters in all"
EMAIL_RULE = "an email address such as name@example.org"
LABEL_RULE = "lowercase letters, digits, '.', '_' and '-', 1 to 63 characters, starting with a letter or digit"
ACTION_RULE = (
    "an action name such as read or call_tool: a lowercase letter, then lowercase letters, digits, '_', ':', '.' "
    "and '-', up to 64 characters in all"
)

MAX_ATTRIBUTES = 32
MAX_ATTR_STRING = 256
MAX_ATTR_SET = 32
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class AgentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    QUARANTINED = "quarantined"
    RETIRED = "retired"


class AgentAction(StrEnum):
    """The lifecycle verbs; each is one transition."""

    SUSPEND = "suspend"
    RESUME = "resume"
    QUARANTINE = "quarantine"
    RETIRE = "retire"


#: (from, verb) -> to. Retired is terminal: a retired identity is never reused.
TRANSITIONS: dict[tuple[AgentStatus, AgentAction], AgentStatus] = {
    (AgentStatus.ACTIVE, AgentAction.SUSPEND): AgentStatus.SUSPENDED,
    (AgentStatus.QUARANTINED, AgentAction.SUSPEND): AgentStatus.SUSPENDED,
    (AgentStatus.SUSPENDED, AgentAction.RESUME): AgentStatus.ACTIVE,
    (AgentStatus.QUARANTINED, AgentAction.RESUME): AgentStatus.ACTIVE,
    (AgentStatus.ACTIVE, AgentAction.QUARANTINE): AgentStatus.QUARANTINED,
    (AgentStatus.SUSPENDED, AgentAction.QUARANTINE): AgentStatus.QUARANTINED,
    (AgentStatus.ACTIVE, AgentAction.RETIRE): AgentStatus.RETIRED,
    (AgentStatus.SUSPENDED, AgentAction.RETIRE): AgentStatus.RETIRED,
    (AgentStatus.QUARANTINED, AgentAction.RETIRE): AgentStatus.RETIRED,
}


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class ResourceKind(StrEnum):
    """What an agent reaches. A tool belongs to an MCP server or app; an endpoint to an app."""

    APP = "app"
    ENDPOINT = "endpoint"
    MCP_SERVER = "mcp_server"
    TOOL = "tool"
    DATASET = "dataset"


#: which kinds a resource of each kind may sit under (None: a root)
ALLOWED_PARENTS: dict[ResourceKind, frozenset[ResourceKind]] = {
    ResourceKind.APP: frozenset(),
    ResourceKind.MCP_SERVER: frozenset(),
    ResourceKind.DATASET: frozenset({ResourceKind.APP}),
    ResourceKind.ENDPOINT: frozenset({ResourceKind.APP}),
    ResourceKind.TOOL: frozenset({ResourceKind.MCP_SERVER, ResourceKind.APP}),
}


class Sensitivity(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


# -- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """A human principal: owner of agents, approver, delegator."""

    id: str
    email: str
    display_name: str
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Agent:
    """A non-human identity with a named human owner."""

    name: str
    spiffe_id: str  #: ``spiffe://<trust-domain>/agent/<name>``; unique, never reused
    owner: str  #: a User id; required
    purpose: str
    status: AgentStatus
    status_reason: str
    team: str
    environment: str
    risk_tier: RiskTier
    clearance: int
    created_at: datetime
    updated_at: datetime
    review_due_at: datetime
    last_seen_at: datetime | None = None
    attributes: Attributes = field(default_factory=dict)
    roles: tuple[str, ...] = ()  #: role names, sorted; filled by the store


@dataclass(frozen=True, slots=True)
class Permission:
    """One entry of a role's bundle: these actions on this resource (and everything under it)."""

    actions: tuple[str, ...]
    resource: str  #: a Resource id, or ``*`` for every resource


@dataclass(frozen=True, slots=True)
class Role:
    """A named bundle of permissions. Agents and users are members."""

    name: str
    description: str
    permissions: tuple[Permission, ...]
    created_at: datetime
    updated_at: datetime
    agents: tuple[str, ...] = ()  #: member agent names, sorted
    users: tuple[str, ...] = ()  #: member user ids, sorted


@dataclass(frozen=True, slots=True)
class Resource:
    """Something agents reach: an app, an endpoint, an MCP server, a tool, a dataset."""

    id: str
    kind: ResourceKind
    display_name: str
    parent: str | None
    sensitivity: Sensitivity
    data_classes: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    attributes: Attributes = field(default_factory=dict)


# -- rules ----------------------------------------------------------------------------------------------


def spiffe_id(trust_domain: str, name: str) -> str:
    return f"spiffe://{trust_domain}/agent/{name}"


def transition(agent: Agent, verb: AgentAction, reason: str, now: datetime) -> Agent:
    """Apply one lifecycle verb; raise ``InvalidTransition`` when the lifecycle does not allow it."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("a status change needs a reason", field="reason")
    target = TRANSITIONS.get((agent.status, verb))
    if target is None:
        allowed = sorted(v.value for (s, v) in TRANSITIONS if s is agent.status)
        hint = f"allowed from {agent.status.value}: {', '.join(allowed)}" if allowed else "it is final"
        raise InvalidTransition(f"cannot {verb.value} an agent that is {agent.status.value} ({hint})")
    return replace(agent, status=target, status_reason=reason, updated_at=now)


def check_parent(kind: ResourceKind, parent: Resource | None, parent_id: str | None) -> None:
    """A resource may only sit under a parent of a compatible kind."""
    allowed = ALLOWED_PARENTS[kind]
    if parent_id is None:
        return
    if not allowed:
        raise ValidationError(f"a resource of kind {kind.value} cannot have a parent", field="parent")
    if parent is None:
        raise ValidationError(f"parent resource {parent_id!r} does not exist", field="parent")
    if parent.kind not in allowed:
        names = ", ".join(sorted(k.value for k in allowed))
        raise ValidationError(f"a {kind.value} can only sit under: {names} (not {parent.kind.value})", field="parent")


def check_attributes(attributes: Attributes, field_name: str = "attributes") -> Attributes:
    """Bound and normalise free-form attributes so that every store and Cedar can hold them."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError(f"at most {MAX_ATTRIBUTES} attributes", field=field_name)
    out: Attributes = {}
    for key, value in attributes.items():
        where = f"{field_name}.{key}"
        if not ATTR_KEY.fullmatch(key):
            raise ValidationError(f"attribute name {key[:40]!r} must be {ATTR_KEY_RULE}", field=where)
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, int):
            if not LONG_MIN <= value <= LONG_MAX:
                raise ValidationError("integer out of 64-bit range", field=where)
            out[key] = value
        elif isinstance(value, str):
            out[key] = check_text(value, where, MAX_ATTR_STRING)
        elif isinstance(value, tuple | list):
            if len(value) > MAX_ATTR_SET or not all(isinstance(v, str) for v in value):
                raise ValidationError(f"a list attribute holds at most {MAX_ATTR_SET} strings", field=where)
            out[key] = tuple(sorted({check_text(v, where, MAX_ATTR_STRING) for v in value}))
        else:
            raise ValidationError("attribute values are strings, integers, booleans or lists of strings", field=where)
    return out


def check_text(value: str, field_name: str, max_length: int) -> str:
    """Reject control characters (PostgreSQL cannot store NUL) and overlong text."""
    if len(value) > max_length:
        raise ValidationError(f"at most {max_length} characters", field=field_name)
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise ValidationError("control characters are not allowed", field=field_name)
    return value
