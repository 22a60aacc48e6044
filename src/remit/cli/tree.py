"""The finishing touches every command of the built ``remit`` command tree gets, in one place.

Typer builds the tree from the command modules; ``RootGroup`` (the root's class) then goes over every command once:

* **global options after the subcommand**: ``--url``, ``--token-file`` and ``--home`` are the root's options, and
  every subcommand accepts them too, with the same meaning (``remit agent list --url URL``). Given twice on the
  command line with different values is a usage error; a value on the command line wins over the environment;
* **help shows metavariables, not Python types**: an option's value is named in capitals after the option
  (``--owner OWNER``) unless the command chose a metavariable (``--key FILE``), a choice lists its values
  (``[low|medium|high|critical]``), a flag and an argument show none (an argument's name is its metavariable);
* **errors name the flag**: each command runs under ``errors.guarded`` with its own parameters, so an error about
  a field (``user_id``) names the option that set it (``--user``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from typer import core as typer_core

from remit.cli.errors import GuardedGroup, guarded
from remit.cli.state import GLOBAL_OPTIONS, CliState, state

GLOBAL_PANEL = "Global options"  #: where a subcommand's help lists the global options


class RootGroup(GuardedGroup):
    """The ``remit`` command group: finishes the tree built under it (see the module's docstring)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        globals_ = [p for p in self.params if p.name in GLOBAL_OPTIONS]
        for command, is_root in _walk(self):
            _name_values(command)
            if not is_root:
                _accept_globals(command, globals_)
            if command.callback is not None and not isinstance(command, typer_core.TyperGroup):
                command.callback = _guard(command.callback, command.params)


def _walk(root: typer_core.TyperGroup) -> Iterator[tuple[Any, bool]]:
    """Every command and group of the tree, each once, the root first."""
    seen: set[int] = set()
    todo: list[tuple[Any, bool]] = [(root, True)]
    while todo:
        command, is_root = todo.pop()
        if id(command) in seen:
            continue
        seen.add(id(command))
        yield command, is_root
        todo.extend((sub, False) for sub in getattr(command, "commands", {}).values())


# -- global options ------------------------------------------------------------------------------------------


def _accept_globals(command: Any, root_options: list[Any]) -> None:
    """Give ``command`` the root's global options, under their own panel, unless it has an option of that name."""
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for option in root_options:
        if taken.intersection(option.opts):
            continue
        local = copy.copy(option)
        local.envvar = None  # the environment was read once, at the root
        local.expose_value = False  # the command's function does not take it: it reaches the command as CliState
        local.callback = _set_global
        local.rich_help_panel = GLOBAL_PANEL
        command.params.append(local)


def _set_global(ctx: typer.Context, param: Any, value: Any) -> Any:
    """A global option given after a subcommand: into this invocation's ``CliState``."""
    if value is None or ctx.resilient_parsing:
        return value
    current = state(ctx)
    name = str(param.name)
    earlier = getattr(current, name)
    if name in current.given and earlier is not None and not _same(earlier, value):
        raise typer.BadParameter(f"given twice with different values ({earlier} and {value}); give it once")
    ctx.obj = replace(current, **{name: value}, given=current.given | {name})
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Path) and isinstance(b, Path):
        return a.expanduser().resolve() == b.expanduser().resolve()
    if isinstance(a, str) and isinstance(b, str):
        return a.rstrip("/") == b.rstrip("/")
    return bool(a == b)


def root_state(ctx: typer.Context, **values: Any) -> CliState:
    """The state of the root's own global options, knowing which came from the command line."""
    given = frozenset(
        name
        for name in values
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"  # not the environment or default
    )
    return CliState(**values, given=given)


# -- metavariables -------------------------------------------------------------------------------------------


def _name_values(command: Any) -> None:
    """Metavariables for ``command``'s parameters, and its help option's, in place of Typer's Python types."""
    for param in command.params:
        _metavar(param)
    original = command.get_help_option

    @functools.wraps(original)
    def help_option(ctx: typer.Context) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""  # a flag: no value to name
        return option

    command.get_help_option = help_option


def _metavar(param: Any) -> None:
    if param.param_type_name == "argument":
        if param.metavar is None:
            param.metavar = str(param.name).upper()
        param.display_type_rich = _no_type  # the name says it; Typer would add its Python type
        return
    if param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
        return
    choices = param.type_descriptor.choices if param.type_descriptor.is_choice else None
    if choices:
        values = (c.value if isinstance(c, Enum) else c for c in choices)
        param.metavar = "[" + "|".join(str(v) for v in values) + "]"
        return
    param.metavar = str(param.name).strip("_").upper()


def _no_type(ctx: typer.Context) -> None:
    return None


# -- errors --------------------------------------------------------------------------------------------------


def _guard(callback: Callable[..., Any], params: list[Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        return guarded(lambda: callback(*args, **kwargs), params)

    return run
