"""How the CLI turns failures into one red line on stderr and an exit code (1 refused, 2 usage).

An error that names the field it is about (``RemitError.field``, a pydantic error's location) is shown with the
option or argument of the command that set that field (``--user``, not ``user_id``) when the command has one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import typer
from typer import core as typer_core

from remit.errors import RemitError
from remit.explain import explain, field_name
from remit.policy.errors import PolicySyntaxError, PolicyValidationError
from remit.tokens.errors import TokenError

EXIT_FAILED = 1  #: the operation was refused or failed: not found, conflict, invalid, forbidden, unreachable
EXIT_USAGE = 2  #: the command line itself was wrong (Typer's own usage errors)

#: a field, as the services and the API name it, and the command parameters that may set it, where their names
#: differ (a parameter of the same name as the field is found without an entry here)
FIELD_PARAMS: dict[str, tuple[str, ...]] = {
    "user_id": ("user",),
    "display_name": ("name",),
    "id": ("user_id", "resource_id", "token_id"),
    "expires_at": ("expires_in",),
    "attributes": ("attr",),
    "permissions": ("permission",),
    "data_classes": ("data_class",),
    "valid_for_seconds": ("valid_for",),
    "policies": ("files",),
    "mode": ("new_mode",),
    "page.limit": ("limit",),
    "page.token": ("cursor",),
}


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


def _candidates(field: str) -> Iterator[str]:
    """The parameter names that may have set ``field``: itself, then each part of a dotted one (``page.limit``,
    ``attributes.team``), each followed by its aliases."""
    for part in (field, *field.split(".")) if "." in field else (field,):
        yield part
        yield from FIELD_PARAMS.get(part, ())


def param_label(field: str, params: Sequence[Any]) -> str | None:
    """How the command line names the parameter that set ``field``: an option's long name (``--user``), an
    argument's metavariable (``NAME``); None when no parameter of the command matches."""
    by_name = {p.name: p for p in params if p.name}
    for name in _candidates(field):
        param = by_name.get(name)
        if param is None:
            continue
        if param.param_type_name == "option":
            return str(max(param.opts, key=len))
        return str(param.metavar or param.name.upper()).strip("[]{}.")
    return None


def with_field(field: str | None, message: str, params: Sequence[Any] = ()) -> str:
    """``message`` about ``field``, named by the command's own parameter where it has one: ``--user: ...``. A
    message that begins with the field's identifier (``expires_at must be ...``) begins with the option instead."""
    if not field:
        return message
    label = param_label(field, params)
    if label is None:
        named = message.startswith(f"{field}:")
        return message if named else f"{field}: {message}"
    if message.startswith(f"{field}:"):
        return label + message[len(field) :]
    if "_" in field and message.startswith(f"{field} "):  # an identifier, not a word of the sentence
        return label + message[len(field) :]
    return f"{label}: {message}"


def describe(exc: BaseException, params: Sequence[Any] = ()) -> str:
    """The one line shown for ``exc``; ``params``: those of the command that raised it, to name its field."""
    if isinstance(exc, TokenError):  # an OAuth refusal: its RFC error code, then what to fix
        return clean(f"{exc.code}: {exc.message}")
    if isinstance(exc, RemitError):
        return clean(with_field(exc.field, exc.message, params))
    errors = validation_errors(exc)
    if errors:  # in the API's words, never pydantic's or a regex; a field named by the command's own parameter

        def called(loc: tuple[Any, ...]) -> str:
            field = field_name(loc)
            return param_label(field, params) or field

        return clean(explain(errors, whole="the input", name=called)[0].message)
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


def fail(exc: BaseException, params: Sequence[Any] = ()) -> NoReturn:
    """Print ``exc`` as one red line on stderr (and each problem of an invalid policy set under it), exit 1."""
    typer.secho(f"error: {describe(exc, params)}", fg=typer.colors.RED, err=True)
    if isinstance(exc, PolicySyntaxError) and exc.source_line is not None and exc.column is not None:
        text, caret = excerpt(exc.source_line, exc.column)
        typer.echo(f"  {text}", err=True)
        typer.secho(f"  {caret}", fg=typer.colors.RED, err=True)
    if isinstance(exc, PolicyValidationError) and len(exc.problems) > 1:
        for problem in exc.problems:
            typer.secho(f"  - {clean(problem)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(EXIT_FAILED)


def guarded(call: Callable[[], Any], params: Sequence[Any] = ()) -> Any:
    """Run ``call``; a failure becomes a red line and exit code 1 (Typer's usage errors and exits pass).
    ``params``: the parameters of the command being run, to name the field an error is about."""
    try:
        return call()
    except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
        raise  # Typer reports its own usage errors, and quietly ends on a closed pipe (`remit ... | head`)
    except Exception as exc:
        expected = isinstance(exc, RemitError | OSError) or validation_errors(exc) is not None
        if not expected and os.environ.get("REMIT_DEBUG"):
            raise
        fail(exc, params)


class GuardedGroup(typer_core.TyperGroup):
    """The root command group: every subcommand runs under ``guarded``, so no traceback reaches a user."""

    def invoke(self, ctx: Any) -> Any:
        return guarded(lambda: super(GuardedGroup, self).invoke(ctx))
