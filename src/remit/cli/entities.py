"""``remit entities``: extra Cedar entities (types the registry does not hold), versioned like policies."""

from pathlib import Path
from typing import Annotated, Any

import typer

from remit.cli import output
from remit.cli.backend import Listing
from remit.cli.options import AsJson
from remit.cli.sources import read_entities
from remit.cli.state import backend

app = typer.Typer(
    help="Extra entities in Cedar's JSON entity format, for policies that need more than the registry.",
    no_args_is_help=True,
)


def _uid(raw: Any) -> str:
    uid = raw.get("__entity", raw) if isinstance(raw, dict) else {}
    return f'{uid.get("type")}::"{uid.get("id")}"' if isinstance(uid, dict) else str(raw)


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.json", help="A JSON array of {uid, attrs, parents}.")],
    comment: Annotated[str, typer.Option("--comment", help="What changed and why.")] = "",
    as_json: AsJson = False,
) -> None:
    """Replace the extra entities with the file's, as a new version (registry types are refused)."""
    from remit.api.schemas.policies import EntitiesApplyRequest

    req = EntitiesApplyRequest(entities=read_entities(file), comment=comment)
    data = backend(ctx).apply_entities(req)
    if as_json:
        output.emit_json(data)
    else:
        output.done(f"entities version {data['version']}: {data['count']} entities")


@app.command("show")
def show(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The extra entities in use."""
    data = backend(ctx).get_entities()
    if as_json:
        output.emit_json(data)
        return
    if not data["entities"]:
        output.note("no extra entities")
        return
    output.listing(
        Listing(items=data["entities"], next_cursor=None),
        as_json=False,
        title=f"Entities, version {data['version']}",
        columns=["uid", "parents", "attrs"],
        row=lambda e: [_uid(e.get("uid")), [_uid(p) for p in e.get("parents", [])], e.get("attrs", {})],
    )
