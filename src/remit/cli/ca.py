"""``remit ca``: Remit's certificate authority for agents' client certificates (mutual TLS): make it, print it.

Both commands work locally and against a server (``--url``). The HTTP schemas (and with them ``cryptography``) are
imported by the command that needs them, not when the module loads.
"""

from enum import StrEnum
from typing import Annotated

import typer

from remit.cli import output
from remit.cli.backend import Json
from remit.cli.options import AsJson
from remit.cli.state import backend

app = typer.Typer(help="Remit's certificate authority for agents (mutual TLS).", no_args_is_help=True)


class KeyType(StrEnum):
    P256 = "p256"
    ED25519 = "ed25519"


def _details(data: Json, as_json: bool, title: str) -> None:
    output.details(
        data,
        as_json=as_json,
        title=title,
        fields=[
            ("id", data["id"]),
            ("subject", data["subject"]),
            ("key type", data["key_type"]),
            ("valid from", data["not_before"]),
            ("valid until", data["not_after"]),
            ("created by", data["created_by"]),
        ],
    )


@app.command("init")
def init(
    ctx: typer.Context,
    organization: Annotated[
        str | None, typer.Option("--organization", help="The CA's O= (default: tokens.ca_organization).")
    ] = None,
    valid_days: Annotated[
        int | None, typer.Option("--valid-days", min=1, max=36_500, help="Default: tokens.ca_validity_days.")
    ] = None,
    key_type: Annotated[
        KeyType, typer.Option("--key-type", help="p256 (accepted by every TLS stack) or ed25519.")
    ] = KeyType.P256,
    as_json: AsJson = False,
) -> None:
    """Make Remit's CA: a key, sealed in the store, and a self-signed CA certificate. Once: never replaced."""
    from remit.api.schemas.certificates import CaInitRequest

    fields: dict[str, object] = {"key_type": key_type.value}
    if organization is not None:
        fields["organization"] = organization
    if valid_days is not None:
        fields["valid_days"] = valid_days
    data = backend(ctx).init_ca(CaInitRequest.model_validate(fields))
    _details(data, as_json, "made Remit's certificate authority")


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: AsJson = False,
    details: Annotated[bool, typer.Option("--details", help="Show the CA's details instead of its PEM.")] = False,
) -> None:
    """Print the CA certificate (PEM): what TLS servers trust for agents' client certificates."""
    data = backend(ctx).get_ca()
    if as_json or details:
        _details(data, as_json, "Remit's certificate authority")
        return
    output.console().print(data["certificate"], end="", markup=False, highlight=False, soft_wrap=True)
