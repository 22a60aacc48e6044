"""``remit keys``: the token signing keys: list them, rotate the active one, print the published JWKS.

Every command works locally and against a server (``--url``). The HTTP schemas (and with them ``cryptography``) are
imported by the command that needs them, not when the module loads: every ``remit`` command imports this module.
"""

from typing import Annotated

import typer
from rich.text import Text

from remit.cli import output
from remit.cli.backend import Json
from remit.cli.migrate import migrate
from remit.cli.options import AsJson
from remit.cli.state import backend

app = typer.Typer(
    help="Token signing keys: list, rotate, print the JWKS; migrate agents off legacy API keys.", no_args_is_help=True
)
app.command("migrate")(migrate)

STATUS_STYLES = {"active": "green", "retired": "yellow", "expired": "dim"}


def _status(value: object) -> Text:
    return Text(str(value), style=STATUS_STYLES.get(str(value), ""))


@app.command("list")
def list_(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every signing key, newest first: which one signs, which still verify, until when."""
    result = backend(ctx).list_keys()
    output.listing(
        result,
        as_json=as_json,
        title="Signing keys",
        columns=["kid", "alg", "status", "activated", "retired", "verifies until"],
        row=lambda k: [
            k["kid"],
            k["alg"],
            _status(k["status"]),
            k["activated_at"],
            k["retired_at"],
            "-" if k["status"] == "active" else output.text(k["verify_until"]),
        ],
    )


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "",
    revoke_previous: Annotated[
        bool,
        typer.Option(
            "--revoke-previous",
            help="The old key stops verifying at once (a compromised key): every token it signed is refused.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (with --revoke-previous).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Make a new active signing key. The old one keeps verifying until the last token it signed has expired."""
    from remit.api.schemas.keys import KeyRotateRequest

    req = KeyRotateRequest(reason=reason, revoke_previous=revoke_previous)
    if revoke_previous and not yes:
        typer.confirm("Revoke the current signing key? Every token it signed stops verifying at once.", abort=True)
    data = backend(ctx).rotate_keys(req)
    if as_json:
        output.emit_json(data)
        return
    active: Json = data["active"]
    retired: Json | None = data.get("retired")
    output.done(f"signing key {active['kid']} ({active['alg']}) is active")
    if retired is None:
        return
    if retired["status"] == "expired":
        output.note(f"the previous key {retired['kid']} is revoked: tokens it signed no longer verify")
    else:
        until = output.when(str(retired["verify_until"]))
        output.note(f"the previous key {retired['kid']} verifies the tokens it signed until {until}")


@app.command("jwks")
def jwks(ctx: typer.Context) -> None:
    """Print the JWK Set that verifiers fetch from /.well-known/jwks.json (public keys only)."""
    output.emit_json(backend(ctx).jwks())
