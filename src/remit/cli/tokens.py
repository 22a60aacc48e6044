"""``remit admin-token``: bearer tokens for the admin API (shown once when minted, then only their ids)."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.text import Text

from remit.admin.access import AdminRole
from remit.cli import output
from remit.cli.backend import collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.parsing import duration
from remit.cli.state import backend

app = typer.Typer(help="Admin tokens: bearer tokens for the admin API and `remit --url`.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. ci-pipeline.")],
    role: Annotated[AdminRole, typer.Option("--role", help="admin: everything; owner: own agents; auditor: read.")],
    user: Annotated[str | None, typer.Option("--user", help="The human it acts for (required for owner).")] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", metavar="DURATION", help="e.g. 12h, 30d, 2w; default: never.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Mint an admin token. Its value is printed once; Remit keeps only a digest."""
    from remit.api.schemas.admin import AdminTokenCreateRequest

    expires_at = datetime.now(UTC) + duration(expires_in) if expires_in is not None else None
    req = AdminTokenCreateRequest(name=name, role=role, user_id=user, expires_at=expires_at)
    data = backend(ctx).create_admin_token(req)
    if as_json:
        output.emit_json(data)
        return
    out = output.console()
    out.print(Text(f"minted admin token {data['id']} ({data['role']}) - shown once, store it now:", style="green"))
    out.print(Text(data["token"]), soft_wrap=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """List admin tokens (never their values)."""
    b = backend(ctx)
    result = collect(b.list_admin_tokens, page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Admin tokens",
        columns=["id", "name", "role", "user", "created", "expires", "revoked"],
        row=lambda t: [
            t["id"],
            t["name"],
            t["role"],
            t["user_id"],
            t["created_at"],
            t["expires_at"] or "never",
            t["revoked_at"],
        ],
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_...), from `remit admin-token list`.")],
    as_json: AsJson = False,
) -> None:
    """Revoke an admin token; it stops working at once."""
    data = backend(ctx).revoke_admin_token(token_id)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"revoked admin token {token_id} ({data['name']})")
