"""The three AuthZEN scenarios as Remit data: registry users, extra entities, a Cedar policy and schema fragment.

* Todo and API gateway (``todo-scenario-pip.json``). The Todo requests name users by PID with type ``user``,
  which is the registry's ``User`` type, but the registry's user ids are lowercase slugs and a PID is base64:
  those users cannot be registered, and ``User`` entities come only from the registry. So the PIP is compiled
  into policies, one per user and grant (the way Remit compiles registry roles), and the documented rules
  (role hierarchy, ownership by ``resource.properties.ownerID``) are applied while generating them. The
  gateway names the same people as ``identity`` entities, which are extra entities carrying ``email`` and
  ``roles``; its route rules read those attributes.
* Search and IdP (``search-scenario-policy.json`` + ``authzen-search-demo/data``): users registered with
  ``role`` and ``department`` attributes, records as extra ``record`` entities whose ``owner`` is the ``User``.
* Certification fixture: alice and bob (``role: admin``) registered, record-1/record-2 with their ``status``.
"""

from __future__ import annotations

from typing import Any

from remit.admin.access import AdminPrincipal, AdminRole
from remit.container import Remit
from remit.registry.service import UserDraft
from tests.policy.conformance.data import SEARCH, TODO_PIP, load

ADMIN = AdminPrincipal(actor="test:conformance", role=AdminRole.ADMIN)

Schema = dict[str, Any]


def _record(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Record", "attributes": attributes}


def _applies(principals: list[str], resources: list[str]) -> dict[str, Any]:
    return {"appliesTo": {"principalTypes": principals, "resourceTypes": resources}}


def _actions(names: list[str]) -> str:
    return ", ".join(f'Action::"{n}"' for n in names)


def _install(remit: Remit, policies: str, schema: Schema, entities: list[dict[str, Any]]) -> None:
    if entities:
        remit.policies.apply_entities(ADMIN, entities, comment="AuthZEN conformance")
    remit.policies.apply(ADMIN, policies, schema_fragment=schema, comment="AuthZEN conformance")
    remit.refresher.refresh()


# -- Todo + API gateway -----------------------------------------------------------------------------------

TODO_ACTIONS = ["can_read_user", "can_read_todos", "can_create_todo", "can_update_todo", "can_delete_todo"]
HTTP_METHODS = ["GET", "POST", "PUT", "DELETE"]
TODO_SCHEMA: Schema = {
    "": {
        "entityTypes": {
            "todo": {"shape": _record({"ownerID": {"type": "String", "required": False}})},
            "identity": {
                "shape": _record({"email": {"type": "String"}, "roles": {"type": "Set", "element": {"type": "String"}}})
            },
            "route": {},
        },
        "actions": {
            "can_read_user": _applies(["User"], ["User"]),
            "can_read_todos": _applies(["User"], ["todo"]),
            "can_create_todo": _applies(["User"], ["todo"]),
            "can_update_todo": _applies(["User"], ["todo"]),
            "can_delete_todo": _applies(["User"], ["todo"]),
        }
        | {method: _applies(["identity"], ["route"]) for method in HTTP_METHODS},
    }
}
GATEWAY_POLICIES = """
@id("route:get")
permit(principal is identity, action == Action::"GET", resource is route);
@id("route:create-todo")
permit(principal is identity, action == Action::"POST", resource == route::"/todos")
when { principal.roles.containsAny(["admin", "editor"]) };
@id("route:update-todo")
permit(principal is identity, action == Action::"PUT", resource == route::"/todos/{todoId}")
when { principal.roles.containsAny(["evil_genius", "editor"]) };
@id("route:delete-todo")
permit(principal is identity, action == Action::"DELETE", resource == route::"/todos/{todoId}")
when { principal.roles.containsAny(["admin", "editor"]) };
"""


def _closure(roles: dict[str, Any], names: list[str]) -> list[str]:
    """A user's roles with everything they inherit (viewer < editor < admin, evil_genius)."""
    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.append(name)
            todo.extend(roles[name].get("inherits", []))
    return out


def todo_policies(pip: dict[str, Any]) -> str:
    """The Todo rules applied to each user of the PIP: what any todo allows, and what owning one adds."""
    roles = pip["roles"]
    out: list[str] = []
    for pid, user in pip["users"].items():
        slug = user["email"].split("@", 1)[0]
        granted = _closure(roles, user["roles"])
        anywhere = sorted({p for r in granted for p in roles[r].get("permissions", []) + roles[r].get("any_todo", [])})
        owned = sorted({p for r in granted for p in roles[r].get("own_todos", [])} - set(anywhere))
        if anywhere:
            out.append(
                f'@id("todo:{slug}")\npermit(principal == User::"{pid}", action in [{_actions(anywhere)}], resource);'
            )
        if owned:
            out.append(
                f'@id("todo:{slug}:own")\npermit(principal == User::"{pid}", action in [{_actions(owned)}], '
                f'resource is todo)\nwhen {{ resource has ownerID && resource.ownerID == "{user["email"]}" }};'
            )
    return "\n".join(out)


def setup_todo(remit: Remit) -> None:
    pip = load(TODO_PIP)
    identities = [
        {"uid": {"type": "identity", "id": pid}, "attrs": {"email": u["email"], "roles": u["roles"]}, "parents": []}
        for pid, u in pip["users"].items()
    ]
    _install(remit, todo_policies(pip) + "\n" + GATEWAY_POLICIES, TODO_SCHEMA, identities)


# -- Search and IdP ---------------------------------------------------------------------------------------

SEARCH_SCHEMA: Schema = {
    "": {
        "entityTypes": {
            "record": {
                "shape": _record(
                    {
                        "title": {"type": "String"},
                        "department": {"type": "String"},
                        "owner": {"type": "Entity", "name": "User"},
                    }
                )
            }
        },
        "actions": {name: _applies(["User"], ["record"]) for name in ("view", "edit", "delete")},
    }
}
SEARCH_POLICIES = """
@id("record:view")
permit(principal is User, action == Action::"view", resource is record)
when {
  resource.owner == principal
  || (principal has department && resource.department == principal.department)
  || (principal has role && principal.role == "manager")
};
@id("record:edit")
permit(principal is User, action == Action::"edit", resource is record)
when {
  resource.owner == principal
  || (principal has role && principal.role == "manager"
      && principal has department && resource.department == principal.department)
};
@id("record:delete")
permit(principal is User, action == Action::"delete", resource is record)
when { resource.owner == principal };
"""


def setup_search(remit: Remit) -> None:
    for user in load(SEARCH / "data" / "users.json"):
        attributes = {"role": user["role"], "department": user["department"]}
        remit.registry.create_user(
            ADMIN, UserDraft(id=user["id"], email=f"{user['id']}@example.org", attributes=attributes)
        )
    records = [
        {
            "uid": {"type": "record", "id": str(r["id"])},  # a number in records.json, a string on the wire
            "attrs": {
                "title": r["title"],
                "department": r["department"],
                "owner": {"__entity": {"type": "User", "id": r["owner"]}},
            },
            "parents": [],
        }
        for r in load(SEARCH / "data" / "records.json")
    ]
    _install(remit, SEARCH_POLICIES, SEARCH_SCHEMA, records)


# -- Certification fixture --------------------------------------------------------------------------------

CERTIFICATION_SCHEMA: Schema = {
    "": {
        "entityTypes": {"record": {"shape": _record({"status": {"type": "String", "required": False}})}},
        "actions": {name: _applies(["User"], ["record"]) for name in ("read", "write", "delete")},
    }
}
CERTIFICATION_POLICIES = """
@id("cert:read")
permit(principal, action == Action::"read", resource);
@id("cert:write-live")
permit(principal == User::"alice", action == Action::"write", resource is record)
when { !(resource has status && resource.status == "archived") };
@id("cert:write-archived")
permit(principal is User, action == Action::"write", resource is record)
when { resource has status && resource.status == "archived" && principal has role && principal.role == "admin" };
@id("cert:soft-delete")
permit(principal, action == Action::"delete", resource)
when { action has soft && action.soft == true };
"""


def setup_certification(remit: Remit) -> None:
    remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    remit.registry.create_user(ADMIN, UserDraft(id="bob", email="bob@example.org", attributes={"role": "admin"}))
    records = [
        {"uid": {"type": "record", "id": rid}, "attrs": {"status": status}, "parents": []}
        for rid, status in (("record-1", "active"), ("record-2", "archived"))
    ]
    _install(remit, CERTIFICATION_POLICIES, CERTIFICATION_SCHEMA, records)
