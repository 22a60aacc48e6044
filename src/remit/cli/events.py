"""``remit events``: the change trail, newest first: who changed what, when, and why."""

from typing import Annotated

import typer

from remit.cli import output
from remit.cli.backend import Json, collect
from remit.cli.options import All, AsJson, Cursor, Limit, page
from remit.cli.state import backend


def _target(e: Json) -> str:
    return f"{e['target_type']}:{e['target_id']}"


def _detail(e: Json) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in (e.get("extra") or {}).items())
    return "; ".join(part for part in (e.get("reason") or "", extra) if part)


def events(
    ctx: typer.Context,
    target_type: Annotated[
        str | None, typer.Option("--target-type", help="agent, user, role, resource or admin_token.")
    ] = None,
    target_id: Annotated[str | None, typer.Option("--target-id", help="e.g. an agent's name.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="e.g. local:alice or token:tok_...")] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. agent.suspend.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    all_: All = False,
    as_json: AsJson = False,
) -> None:
    """Show the change trail, newest first."""
    from remit.registry.ports import EventFilter

    where = EventFilter(target_type=target_type, target_id=target_id, actor=actor, action=action)
    b = backend(ctx)
    result = collect(lambda p: b.list_events(where, p), page(limit, cursor), all_)
    output.listing(
        result,
        as_json=as_json,
        title="Events",
        columns=["at", "actor", "action", "target", "reason / detail"],
        row=lambda e: [e["at"], e["actor"], e["action"], _target(e), _detail(e)],
    )
