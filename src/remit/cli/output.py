"""Rendering: Rich tables and detail views for people, JSON for scripts (``--json``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from remit.cli.backend import Json, Listing

Cell = str | Text
PIPE_WIDTH = 200
STATUS_STYLES = {
    "active": "green",
    "suspended": "yellow",
    "quarantined": "bold red",
    "retired": "dim",
    "disabled": "dim",
}
_ISO = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def console(*, err: bool = False) -> Console:
    """A console on the current stdout (or stderr); built per use so that test runners capture it."""
    out = Console(stderr=err, highlight=False, soft_wrap=True)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH  # piped or captured: do not fold tables into 80 columns
    return out


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def note(message: str) -> None:
    """A hint for people, on stderr, so that stdout stays clean for scripts."""
    console(err=True).print(Text(message, style="dim"))


def done(message: str) -> None:
    console().print(Text(message, style="green"))


def text(value: Any) -> Text:
    """A table cell for any JSON value; never read as Rich markup."""
    if value is None or value == "" or value == [] or value == {}:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, list):
        return Text(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return Text(", ".join(f"{k}={_scalar(v)}" for k, v in value.items()))
    if isinstance(value, str):
        return Text(when(value))
    return Text(str(value))


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def when(value: str) -> str:
    """An ISO timestamp shortened for reading (``2026-01-01 12:00:00Z``); any other text unchanged."""
    m = _ISO.match(value)
    if not m:
        return value
    zone = m.group(4) or ""
    return f"{m.group(1)} {m.group(2)}{'Z' if zone in ('Z', '+00:00') else zone}"


def status(value: Any) -> Text:
    return Text(str(value), style=STATUS_STYLES.get(str(value), ""))


def listing(
    result: Listing,
    *,
    as_json: bool,
    title: str,
    columns: Sequence[str],
    row: Callable[[Json], Sequence[Cell]],
) -> None:
    """Print a listing: the list of items as JSON, or a table; say on stderr when more pages follow."""
    items = result["items"]
    if as_json:
        emit_json(items)
    elif not items:
        note(f"no {title.lower()}")
    else:
        table = Table(title=f"{title} ({len(items)})", title_justify="left", header_style="bold")
        for i, name in enumerate(columns):
            table.add_column(name, no_wrap=i == 0, overflow="fold")
        for item in items:
            table.add_row(*[c if isinstance(c, Text) else text(c) for c in row(item)])
        console().print(table)
    if result["next_cursor"]:
        note(f"more {title.lower()} follow: add --all, or --cursor {result['next_cursor']}")


def details(data: Json, *, as_json: bool, title: str, fields: Sequence[tuple[str, Any]]) -> None:
    """Print one object: JSON, or a two-column view of ``fields`` (label, value or Text)."""
    if as_json:
        emit_json(data)
        return
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, value in fields:
        table.add_row(label, value if isinstance(value, Text) else text(value))
    console().print(table)
