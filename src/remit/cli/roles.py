"""``remit role``: named bundles of permissions, and which agents and users hold them."""

from typing import Annotated

import typer

from remit.cli import output
from remit.cli.backend import Json, MemberKind, collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.parsing import permissions
from remit.cli.state import backend

app = typer.Typer(help="Roles: named bundles of permissions held by agents and users.", no_args_is_help=True)

RoleName = Annotated[str, typer.Argument(help="The role's name.")]
Permissions = Annotated[
    list[str] | None,
    typer.Option(
        "--permission",
        metavar="ACTION[,ACTION]:RESOURCE",
        help="e.g. read,call_tool:helpdesk.get_ticket; RESOURCE is a resource id (its children included) or *.",
    ),
]
Agents = Annotated[list[str] | None, typer.Option("--agent", help="An agent name (repeatable).")]
Users = Annotated[list[str] | None, typer.Option("--user", help="A user id (repeatable).")]


def permission_lines(data: Json) -> str:
    return "\n".join(f"{','.join(p['actions'])} on {p['resource']}" for p in data["permissions"])


def show(data: Json, as_json: bool, title: str | None = None) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title or f"role {data['name']}",
        fields=[
            ("description", data["description"]),
            ("permissions", permission_lines(data) or None),
            ("agents", data["agents"]),
            ("users", data["users"]),
            ("created", data["created_at"]),
            ("updated", data["updated_at"]),
        ],
    )


@app.command("create")
def create(
    ctx: typer.Context,
    name: RoleName,
    description: Annotated[str, typer.Option("--description")] = "",
    permission: Permissions = None,
    as_json: AsJson = False,
) -> None:
    """Create a role."""
    from remit.api.schemas.roles import RoleCreateRequest

    req = RoleCreateRequest(name=name, description=description, permissions=permissions(permission))
    show(backend(ctx).create_role(req), as_json, title=f"created role {name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", help="Only roles this agent holds.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only roles this user holds.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """List roles, by name."""
    from remit.registry.ports import RoleFilter

    b = backend(ctx)
    result = collect(lambda p: b.list_roles(RoleFilter(agent=agent, user=user), p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Roles",
        columns=["name", "permissions", "agents", "users"],
        row=lambda r: [r["name"], permission_lines(r), r["agents"], r["users"]],
    )


@app.command("show")
def show_(ctx: typer.Context, name: RoleName, as_json: AsJson = False) -> None:
    """Show one role, its permissions and members."""
    show(backend(ctx).get_role(name), as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    name: RoleName,
    description: Annotated[str | None, typer.Option("--description")] = None,
    permission: Permissions = None,
    clear_permissions: Annotated[bool, typer.Option("--clear-permissions", help="Remove every permission.")] = False,
    as_json: AsJson = False,
) -> None:
    """Change a role; --permission replaces the whole set of permissions."""
    from remit.api.schemas.roles import RoleUpdateRequest

    fields: dict[str, object] = {}
    if description is not None:
        fields["description"] = description
    if permission or clear_permissions:
        fields["permissions"] = permissions(permission)
    if not fields:
        raise typer.BadParameter("name at least one thing to change", param_hint="options")
    show(
        backend(ctx).update_role(name, RoleUpdateRequest.model_validate(fields)), as_json, title=f"updated role {name}"
    )


@app.command("delete")
def delete(ctx: typer.Context, name: RoleName) -> None:
    """Delete a role; its members lose what it granted."""
    backend(ctx).delete_role(name)
    output.done(f"deleted role {name}")


def _members(ctx: typer.Context, role: str, agents: list[str] | None, users: list[str] | None, add: bool) -> Json:
    targets: list[tuple[MemberKind, str]] = [("agent", a) for a in agents or []] + [("user", u) for u in users or []]
    if not targets:
        raise typer.BadParameter("name at least one --agent or --user", param_hint="--agent/--user")
    b = backend(ctx)
    data: Json = {}
    for kind, member in targets:
        data = b.set_role_member(role, kind, member, add)
    return data


@app.command("assign")
def assign(
    ctx: typer.Context, role: RoleName, agent: Agents = None, user: Users = None, as_json: AsJson = False
) -> None:
    """Give a role to agents and/or users."""
    show(_members(ctx, role, agent, user, True), as_json, title=f"role {role}")


@app.command("unassign")
def unassign(
    ctx: typer.Context, role: RoleName, agent: Agents = None, user: Users = None, as_json: AsJson = False
) -> None:
    """Take a role away from agents and/or users."""
    show(_members(ctx, role, agent, user, False), as_json, title=f"role {role}")
