"""Every command's help: metavariables, not Python types; the global options listed; help text read as written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from remit.cli.main import app
from tests.cli.conftest import Run

#: what Typer shows when a parameter names no metavariable: its Python type
PYTHON_TYPE = re.compile(
    r"<(?:str|int|float|bool|bytes|Path|path|file|datetime|UUID|uuid|list\[[^>]*\]|[a-z ]*range)>"
    r"|list\[|Optional|NoneType|typing\.|<class "
)


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


TREE = list(commands(typer.main.get_command(app)))


def test_the_tree_is_walked_whole() -> None:
    assert len(TREE) > 90
    assert ("agent", "key", "add") in {path for path, _ in TREE}


@pytest.mark.parametrize("path", [path for path, _ in TREE], ids=lambda p: " ".join(p) or "remit")
def test_help_shows_no_python_type(run: Run, path: tuple[str, ...]) -> None:
    result = run(*path, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert PYTHON_TYPE.findall(result.stdout) == [], result.stdout
    if path:
        assert "Global options" in result.stdout  # --url, --token-file and --home are accepted here too


@pytest.mark.parametrize(("path", "command"), TREE, ids=lambda p: " ".join(p) if isinstance(p, tuple) else "")
def test_every_value_has_a_metavariable(path: tuple[str, ...], command: Any) -> None:
    for param in command.params:
        where = f"{' '.join(path)} {param.name}"
        if param.param_type_name == "argument":
            assert param.metavar and "<" not in param.metavar, where
            continue
        if param.is_flag or param.count:
            assert param.metavar == "", where  # a flag takes no value: nothing to name
        else:
            assert param.metavar and "<" not in param.metavar, where


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["agent", "create"], ["NAME", "--owner OWNER", "--risk-tier [low|medium|high|critical]", "KEY=VALUE"]),
        (["agent", "create"], ["[a,b] -> list"]),  # help text is not eaten as Rich markup
        (["policy", "apply"], ["PATH", "--schema SCHEMA.json"]),
        (["token", "revoke"], ["token revoke [OPTIONS] [TOKEN]", "│ TOKEN "]),  # optional: bracketed once
        (["agent", "list"], ["--limit LIMIT", "--url URL", "--home DIR", "--token-file PATH"]),
    ],
)
def test_help_names_the_values(run: Run, args: list[str], shown: list[str]) -> None:
    out = " ".join(run(*args, "--help", env={"COLUMNS": "200"}).stdout.split())
    for text in shown:
        assert text in out, out
