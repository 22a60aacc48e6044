"""``remit user``: the humans who own agents, approve access and delegate."""

from typing import Annotated

import typer

from remit.cli import output
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Attrs, Cursor, Limit, page
from remit.cli.parsing import attributes
from remit.cli.state import backend
from remit.registry.models import UserStatus

app = typer.Typer(help="Users: the humans who own agents.", no_args_is_help=True)

UserId = Annotated[str, typer.Argument(help="The user's id (lowercase letters, digits, '.', '_', '-').")]


def show(data: Json, as_json: bool, title: str | None = None) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title or f"user {data['id']}",
        fields=[
            ("email", data["email"]),
            ("name", data["display_name"]),
            ("status", output.status(data["status"])),
            ("attributes", data["attributes"]),
            ("created", data["created_at"]),
            ("updated", data["updated_at"]),
        ],
    )


@app.command("create")
def create(
    ctx: typer.Context,
    user_id: UserId,
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    attr: Attrs = None,
    as_json: AsJson = False,
) -> None:
    """Register a user."""
    from remit.api.schemas.users import UserCreateRequest

    req = UserCreateRequest(id=user_id, email=email, display_name=name, attributes=attributes(attr))
    show(backend(ctx).create_user(req), as_json, title=f"registered user {user_id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[UserStatus | None, typer.Option("--status")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """List users, by id."""
    from remit.registry.ports import UserFilter

    b = backend(ctx)
    result = collect(lambda p: b.list_users(UserFilter(status=status), p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Users",
        columns=["id", "name", "email", "status"],
        row=lambda u: [u["id"], u["display_name"], u["email"], output.status(u["status"])],
    )


@app.command("show")
def show_(ctx: typer.Context, user_id: UserId, as_json: AsJson = False) -> None:
    """Show one user."""
    show(backend(ctx).get_user(user_id), as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    user_id: UserId,
    email: Annotated[str | None, typer.Option("--email")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    attr: Attrs = None,
    as_json: AsJson = False,
) -> None:
    """Change a user's email, name or attributes (--attr replaces the given keys)."""
    from remit.api.schemas.users import UserUpdateRequest

    b = backend(ctx)
    fields: dict[str, object] = {k: v for k, v in {"email": email, "display_name": name}.items() if v is not None}
    if attr:
        fields["attributes"] = {**b.get_user(user_id)["attributes"], **attributes(attr)}
    if not fields:
        raise typer.BadParameter("name at least one thing to change", param_hint="options")
    show(b.update_user(user_id, UserUpdateRequest.model_validate(fields)), as_json, title=f"updated user {user_id}")


def _set_status(ctx: typer.Context, user_id: str, status: UserStatus, as_json: bool) -> None:
    from remit.api.schemas.users import UserUpdateRequest

    data = backend(ctx).update_user(user_id, UserUpdateRequest(status=status))
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"user {user_id} is now {data['status']}")


@app.command("disable")
def disable(ctx: typer.Context, user_id: UserId, as_json: AsJson = False) -> None:
    """Disable a user: their admin tokens stop working at once; they can no longer own new agents."""
    _set_status(ctx, user_id, UserStatus.DISABLED, as_json)


@app.command("enable")
def enable(ctx: typer.Context, user_id: UserId, as_json: AsJson = False) -> None:
    """Enable a disabled user again."""
    _set_status(ctx, user_id, UserStatus.ACTIVE, as_json)
