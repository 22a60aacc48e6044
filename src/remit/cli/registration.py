"""``remit registration-token``: initial access tokens for dynamic client registration (``POST /oauth/register``,
RFC 7591): shown once when minted, then only their ids."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.backend import collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.parsing import duration
from remit.cli.state import backend

app = typer.Typer(
    help="Initial access tokens: who may register agents at /oauth/register (RFC 7591), for which owner.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option("--owner", help="The owner of every agent it registers.")] = None,
    any_owner: Annotated[
        bool, typer.Option("--any-owner", help="Instead of --owner: agents of any owner the registration names.")
    ] = False,
    expires_in: Annotated[
        str, typer.Option("--expires-in", metavar="DURATION", help="e.g. 1h, 2d; at most 30d.")
    ] = "1h",
    max_uses: Annotated[
        int | None, typer.Option("--max-uses", min=1, help="How many agents it may register (default: any).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="What it is for.")] = "",
    as_json: AsJson = False,
) -> None:
    """Mint an initial access token. Its value is printed once; Remit keeps only a digest."""
    from remit.api.schemas.registration import RegistrationTokenCreateRequest

    if (owner is None) == (not any_owner):
        raise typer.BadParameter("give exactly one of --owner and --any-owner", param_hint="--owner")
    req = RegistrationTokenCreateRequest(
        owner=owner,
        any_owner=any_owner,
        expires_at=datetime.now(UTC) + duration(expires_in),
        max_uses=max_uses,
        name=name,
    )
    data = backend(ctx).create_registration_token(req)
    if as_json:
        output.emit_json(data)
        return
    whose = f"for {data['owner']}" if data["owner"] else "for any owner"
    out = output.console()
    out.print(Text(f"minted registration token {data['id']} ({whose}) - shown once, store it now:", style="green"))
    out.print(Text(data["token"]), soft_wrap=True)


@app.command("list")
def list_(
    ctx: typer.Context, limit: Limit = None, cursor: Cursor = None, all_: All = False, as_json: AsJson = False
) -> None:
    """List registration tokens (never their values)."""
    b = backend(ctx)
    output.listing(
        collect(b.list_registration_tokens, page(limit, cursor), all_),
        as_json=as_json,
        title="Registration tokens",
        columns=["id", "owner", "status", "uses", "expires", "name"],
        row=lambda t: [
            t["id"],
            t["owner"] or "any",
            t["status"],
            f"{t['use_count']}/{t['max_uses']}" if t["max_uses"] else str(t["use_count"]),
            t["expires_at"],
            t["name"],
        ],
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (reg_...), from `remit registration-token list`.")],
    as_json: AsJson = False,
) -> None:
    """Revoke a registration token; registrations with it are refused at once."""
    data = backend(ctx).revoke_registration_token(token_id)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"revoked registration token {token_id}")
