"""How the CLI turns failures into one red line on stderr and an exit code (1 refused, 2 usage)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from typer import core as typer_core

from remit.errors import RemitError
from remit.policy.errors import PolicyValidationError
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


def validation_errors(exc: BaseException) -> list[Any] | None:
    """The errors of a pydantic ``ValidationError``, else None. pydantic is never imported here: a process that
    has not loaded it cannot have raised one."""
    core = sys.modules.get("pydantic_core")
    if core is not None and isinstance(exc, core.ValidationError):
        errors: list[Any] = exc.errors()
        return errors
    return None


def describe(exc: BaseException) -> str:
    """The one line shown for ``exc``."""
    if isinstance(exc, TokenError):  # an OAuth refusal: its RFC error code, then what to fix
        return clean(f"{exc.code}: {exc.message}")
    if isinstance(exc, RemitError):
        named = exc.field and not exc.message.startswith(f"{exc.field}:")
        return clean(f"{exc.field}: {exc.message}" if named else exc.message)
    errors = validation_errors(exc)
    if errors:
        first = errors[0]
        loc = ".".join(str(part) for part in first["loc"])
        return clean(f"{loc}: {first['msg']}" if loc else first["msg"])
    if isinstance(exc, OSError):
        name = f": {exc.filename}" if exc.filename else ""
        return clean(f"{exc.strerror or exc}{name}")
    return clean(f"unexpected {type(exc).__name__}: {exc} (set REMIT_DEBUG=1 to see where)")


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one red line on stderr (and each problem of an invalid policy set under it), exit 1."""
    typer.secho(f"error: {describe(exc)}", fg=typer.colors.RED, err=True)
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
    except Exception as exc:
        expected = isinstance(exc, RemitError | OSError) or validation_errors(exc) is not None
        if not expected and os.environ.get("REMIT_DEBUG"):
            raise
        fail(exc)


class GuardedGroup(typer_core.TyperGroup):
    """The root command group: every subcommand runs under ``guarded``, so no traceback reaches a user."""

    def invoke(self, ctx: Any) -> Any:
        return guarded(lambda: super(GuardedGroup, self).invoke(ctx))
