"""Options shared by many commands: ``--json`` and the paging options of listings."""

from __future__ import annotations

from typing import Annotated

import typer

from remit.cli.backend import PageArgs

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
Limit = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Items per page (default: the server's page size)."),
]
All = Annotated[bool, typer.Option("--all", help="Walk every page, not just the first.")]
Cursor = Annotated[str | None, typer.Option("--cursor", help="Continue a listing where a previous page ended.")]
Attrs = Annotated[
    list[str] | None,
    typer.Option(
        "--attr",
        metavar="KEY=VALUE",
        help="An attribute (repeatable). true/false -> bool, 42 -> integer, \\[a,b] -> list, else text.",
    ),
]


def page(limit: int | None, cursor: str | None) -> PageArgs:
    return PageArgs(limit=limit, cursor=cursor)
