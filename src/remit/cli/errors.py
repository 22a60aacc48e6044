"""How the CLI turns failures into one red line on stderr and an exit code (1 refused, 2 usage)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

import pydantic
import typer
from typer import core as typer_core

from remit.errors import RemitError
from remit.explain import explain
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.tokens.errors import TokenError

EXIT_FAILED = 1  #: the operation was refused or failed: not found, conflict, invalid, forbidden, unreachable
EXIT_USAGE = 2  #: the command line itself was wrong (Typer's own usage errors)


class Unreachable(RemitError):
    """The server named by ``--url`` could not be reached, or did not answer in time."""

    code = "unreachable"
    default_message = "the server could not be reached"


class RemoteError(RemitError):
    """An error answered by the server whose code has no class of its own here."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        self.code = code
        super().__init__(message, field=field)


def clean(text: str) -> str:
    """Text safe to print on a terminal: no control characters or escape sequences."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def describe(exc: BaseException) -> str:
    """The one line shown for ``exc``."""
    if isinstance(exc, TokenError):  # an OAuth refusal: its RFC error code, then what to fix
        return clean(f"{exc.code}: {exc.message}")
    if isinstance(exc, RemitError):
        named = exc.field and not exc.message.startswith(f"{exc.field}:")
        return clean(f"{exc.field}: {exc.message}" if named else exc.message)
    if isinstance(exc, pydantic.ValidationError):  # in the API's words, never pydantic's or a regex
        return clean(explain(exc.errors(), whole="the input")[0].message)
    if isinstance(exc, OSError):
        name = f": {exc.filename}" if exc.filename else ""
        return clean(f"{exc.strerror or exc}{name}")
    return clean(f"unexpected {type(exc).__name__}: {exc} (set REMIT_DEBUG=1 to see where)")


def excerpt(line: str, column: int, width: int = 100) -> tuple[str, str]:
    """A source line (cut to about ``width`` characters around ``column``) and a caret under that column."""
    start = max(0, column - 1 - width // 2) if len(line) > width else 0
    shown = line[start : start + width]
    text = "".join(c if c.isprintable() or c == "\t" else " " for c in shown)
    before = "".join("\t" if c == "\t" else " " for c in text[: column - 1 - start])
    lead = "..." if start else ""
    return lead + text, " " * len(lead) + before + "^"


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one red line on stderr (and each problem of an invalid policy set under it), exit 1."""
    typer.secho(f"error: {describe(exc)}", fg=typer.colors.RED, err=True)
    if isinstance(exc, PolicySyntaxError) and exc.source_line is not None and exc.column is not None:
        text, caret = excerpt(exc.source_line, exc.column)
        typer.echo(f"  {text}", err=True)
        typer.secho(f"  {caret}", fg=typer.colors.RED, err=True)
    if isinstance(exc, PolicyValidationError) and len(exc.problems) > 1:
        for problem in exc.problems:
            typer.secho(f"  - {clean(problem)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(EXIT_FAILED)


def guarded(call: Callable[[], Any]) -> Any:
    """Run ``call``; a failure becomes a red line and exit code 1 (Typer's usage errors and exits pass)."""
    try:
        return call()
    except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
        raise  # Typer reports its own usage errors, and quietly ends on a closed pipe (`remit ... | head`)
    except (RemitError, pydantic.ValidationError, OSError) as exc:
        fail(exc)
    except Exception as exc:
        if os.environ.get("REMIT_DEBUG"):
            raise
        fail(exc)


class GuardedGroup(typer_core.TyperGroup):
    """The root command group: every subcommand runs under ``guarded``, so no traceback reaches a user."""

    def invoke(self, ctx: Any) -> Any:
        return guarded(lambda: super(GuardedGroup, self).invoke(ctx))
