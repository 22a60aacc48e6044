"""The registry as Cedar: entities, the generated RBAC policies, and the base schema.

* Agents are ``Agent::"<name>"`` (SPIFFE id as an attribute), members of their ``Role``s; ``owner`` is a ``User``.
* Users are ``User::"<id>"``; resources are ``App``, ``Endpoint``, ``McpServer``, ``Tool``, ``Dataset`` under their
  parent, so ``resource in McpServer::"helpdesk"`` covers the server's tools.
* Each role permission compiles to ``permit(principal in Role::"r", action in [...], resource in <R>)``
  with ``@id("role:r#i")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from remit.policy.model import Entity, EntityRef
from remit.policy.values import entity_value, to_cedar
from remit.registry.models import Agent, Resource, ResourceKind, Role, User

AGENT, USER, ROLE = "Agent", "User", "Role"
RESOURCE_TYPES: dict[ResourceKind, str] = {
    ResourceKind.APP: "App",
    ResourceKind.ENDPOINT: "Endpoint",
    ResourceKind.MCP_SERVER: "McpServer",
    ResourceKind.TOOL: "Tool",
    ResourceKind.DATASET: "Dataset",
}
#: AuthZEN ``type`` values (case-insensitive) that name registry types; any other type is used verbatim
TYPE_ALIASES: dict[str, str] = {
    "agent": AGENT,
    "user": USER,
    "role": ROLE,
    "app": "App",
    "endpoint": "Endpoint",
    "mcp_server": "McpServer",
    "mcpserver": "McpServer",
    "tool": "Tool",
    "dataset": "Dataset",
}
#: actions every deployment knows; roles and schema fragments add more
BUILTIN_ACTIONS = ("read", "write", "delete", "call_tool", "list_tools", "create", "update", "execute")

_AGENT_FIXED = (
    "name",
    "spiffe_id",
    "owner",
    "purpose",
    "status",
    "team",
    "environment",
    "risk_tier",
    "clearance",
    "risk",
)
_USER_FIXED = ("email", "display_name", "status")
_RESOURCE_FIXED = ("kind", "display_name", "sensitivity", "data_classes")


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    agents: Sequence[Agent]
    users: Sequence[User]
    roles: Sequence[Role]
    resources: Sequence[Resource]


def cedar_type(authzen_type: str) -> str:
    return TYPE_ALIASES.get(authzen_type.lower(), authzen_type)


def resource_ref(resource: Resource) -> EntityRef:
    return EntityRef(RESOURCE_TYPES[resource.kind], resource.id)


def entities(snapshot: RegistrySnapshot) -> list[Entity]:
    by_id = {r.id: r for r in snapshot.resources}
    out: list[Entity] = []
    for role in snapshot.roles:
        out.append(Entity(EntityRef(ROLE, role.name), {"name": role.name}))
    user_roles: dict[str, list[EntityRef]] = {}
    for role in snapshot.roles:
        for uid in role.users:
            user_roles.setdefault(uid, []).append(EntityRef(ROLE, role.name))
    for user in snapshot.users:
        attrs = _free(user.attributes, _USER_FIXED)
        attrs.update(email=user.email, display_name=user.display_name, status=user.status.value)
        out.append(Entity(EntityRef(USER, user.id), attrs, tuple(user_roles.get(user.id, ()))))
    for agent in snapshot.agents:
        attrs = _free(agent.attributes, _AGENT_FIXED)
        attrs.update(
            name=agent.name,
            spiffe_id=agent.spiffe_id,
            owner=entity_value(USER, agent.owner),
            purpose=agent.purpose,
            status=agent.status.value,
            team=agent.team,
            environment=agent.environment,
            risk_tier=agent.risk_tier.value,
            clearance=agent.clearance,
            risk=0,
        )
        out.append(Entity(EntityRef(AGENT, agent.name), attrs, tuple(EntityRef(ROLE, r) for r in agent.roles)))
    for resource in snapshot.resources:
        attrs = _free(resource.attributes, _RESOURCE_FIXED)
        attrs.update(
            kind=resource.kind.value,
            display_name=resource.display_name,
            sensitivity=resource.sensitivity.value,
            data_classes=list(resource.data_classes),
        )
        parent = by_id.get(resource.parent) if resource.parent else None
        parents = (resource_ref(parent),) if parent is not None else ()
        out.append(Entity(resource_ref(resource), attrs, parents))
    return out


def role_policies_text(roles: Iterable[Role], resources: Sequence[Resource]) -> str:
    """The RBAC half of the policy set, as Cedar text."""
    by_id = {r.id: r for r in resources}
    lines: list[str] = []
    for role in roles:
        for i, perm in enumerate(role.permissions):
            actions = ", ".join(f'Action::"{a}"' for a in perm.actions)
            if perm.resource == "*":
                target = "resource"
            else:
                res = by_id.get(perm.resource)
                if res is None:
                    continue
                target = f"resource in {resource_ref(res)}"
            head = f'permit(principal in Role::"{role.name}", action in [{actions}], {target});'
            lines.append(f'@id("role:{role.name}#{i}")\n{head}')
    return "\n".join(lines)


def base_schema(snapshot: RegistrySnapshot, extra_actions: Iterable[str] = ()) -> dict[str, Any]:
    """The Cedar JSON schema of the registry: types, their attributes, and the known actions."""
    resource_types = list(RESOURCE_TYPES.values())
    principal_types = [AGENT, USER]
    entity_types: dict[str, Any] = {
        ROLE: {"shape": _record({"name": _t("String")})},
        USER: {
            "memberOfTypes": [ROLE],
            "shape": _record(
                {"email": _t("String"), "display_name": _t("String"), "status": _t("String")}
                | _inferred((u.attributes for u in snapshot.users), _USER_FIXED)
            ),
        },
        AGENT: {
            "memberOfTypes": [ROLE],
            "shape": _record(
                {
                    "name": _t("String"),
                    "spiffe_id": _t("String"),
                    "owner": {"type": "Entity", "name": USER},
                    "purpose": _t("String"),
                    "status": _t("String"),
                    "team": _t("String"),
                    "environment": _t("String"),
                    "risk_tier": _t("String"),
                    "clearance": _t("Long"),
                    "risk": _t("Long"),
                }
                | _inferred((a.attributes for a in snapshot.agents), _AGENT_FIXED)
            ),
        },
    }
    resource_attrs = {
        "kind": _t("String"),
        "display_name": _t("String"),
        "sensitivity": _t("String"),
        "data_classes": {"type": "Set", "element": _t("String")},
    } | _inferred((r.attributes for r in snapshot.resources), _RESOURCE_FIXED)
    parents = {
        "App": [],
        "McpServer": [],
        "Endpoint": ["App"],
        "Dataset": ["App"],
        "Tool": ["McpServer", "App"],
    }
    for name in resource_types:
        entity_types[name] = {"memberOfTypes": parents[name], "shape": _record(dict(resource_attrs))}
    context = _record(
        {
            "time": _opt("String"),
            "source_ip": _opt("String"),
            "environment": _opt("String"),
            "risk": _opt("Long"),
            "delegated_by": {"type": "Set", "element": {"type": "Entity", "name": USER}, "required": False},
        }
    )
    names = list(dict.fromkeys([*BUILTIN_ACTIONS, *extra_actions]))
    actions = {
        name: {"appliesTo": {"principalTypes": principal_types, "resourceTypes": resource_types, "context": context}}
        for name in names
    }
    return {"": {"entityTypes": entity_types, "actions": actions}}


def merge_schema(base: dict[str, Any], fragment: dict[str, Any] | None) -> dict[str, Any]:
    """Add a user fragment (Cedar JSON schema) to the base: new types and actions; an action named in both takes
    the fragment's definition (that is how a tool's argument types are declared). Redefining a registry type is
    an error."""
    if not fragment:
        return base
    merged = {
        ns: {"entityTypes": dict(v.get("entityTypes", {})), "actions": dict(v.get("actions", {}))}
        for ns, v in base.items()
    }
    for ns, body in fragment.items():
        if not isinstance(body, dict):
            raise ValueError(f"schema namespace {ns!r} must be an object")
        target = merged.setdefault(ns, {"entityTypes": {}, "actions": {}})
        for name, definition in (body.get("entityTypes") or {}).items():
            if ns == "" and name in base[""]["entityTypes"]:
                raise ValueError(f"schema: entity type {name!r} is defined by the registry; do not redefine it")
            target["entityTypes"][name] = definition
        for name, definition in (body.get("actions") or {}).items():
            target["actions"][name] = definition
        if "commonTypes" in body:
            target["commonTypes"] = body["commonTypes"]
    return merged


def _free(attributes: dict[str, Any], fixed: Sequence[str]) -> dict[str, Any]:
    return {k: to_cedar(list(v) if isinstance(v, tuple) else v) for k, v in attributes.items() if k not in fixed}


def _inferred(attribute_maps: Iterable[dict[str, Any]], fixed: Sequence[str]) -> dict[str, Any]:
    """Free-form attributes as optional schema attributes, typed by what is stored (first type seen wins)."""
    out: dict[str, Any] = {}
    for attrs in attribute_maps:
        for key, value in attrs.items():
            if key in fixed or key in out:
                continue
            if isinstance(value, bool):
                out[key] = _opt("Boolean")
            elif isinstance(value, int):
                out[key] = _opt("Long")
            elif isinstance(value, tuple | list):
                out[key] = {"type": "Set", "element": _t("String"), "required": False}
            else:
                out[key] = _opt("String")
    return out


def _record(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Record", "attributes": attributes}


def _t(name: str) -> dict[str, Any]:
    return {"type": name}


def _opt(name: str) -> dict[str, Any]:
    return {"type": name, "required": False}
