"""An error about a field names the option or argument that set it (``--user``), not the field (``user_id``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from remit.cli.errors import describe, param_label, with_field
from remit.cli.main import app
from remit.errors import NotFound, ValidationError
from tests.cli.conftest import Run

#: (command line, the start of the one error line) for refusals by the services, the API's request models or
#: the CLI's own checks, each about a field that a flag or argument of the command set
CASES = [
    (["admin-token", "create", "--name", "ci", "--role", "owner"], "error: --user: an owner token names the user"),
    (["agent", "create", "bot", "--owner", "nobody"], "error: --owner: owner 'nobody' is not a registered user"),
    (["agent", "create", "Bad Name", "--owner", "alice"], "error: NAME must be lowercase letters"),
    (["agent", "create", "bot", "--owner", "alice", "--clearance", "11"], "error: --clearance must be at most 10"),
    (
        ["agent", "create", "bot", "--owner", "alice", "--attr", "Bad Key=1"],
        "error: --attr key 'Bad Key' must be a lowercase letter",
    ),
    (["agent", "create", "bot", "--owner", "alice", "--purpose", "x" * 1001], "error: --purpose"),
    (["resource", "create", "r1", "--kind", "tool", "--parent", "nope"], "error: --parent: parent resource 'nope'"),
    (["user", "create", "BAD", "--email", "b@example.com"], "error: USER_ID must be lowercase letters"),
    (["user", "update", "alice", "--name", "x" * 300], "error: --name must be at most 200 characters"),
    (["agent", "show", "ghost"], "error: NAME: no such agent 'ghost'"),
]


def refusal(run: Run, args: list[str], env: dict[str, str] | None = None) -> str:
    """The one error line; what it names first is an option (``--user``) or an argument (``NAME``)."""
    result = run(*args, env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    named = result.stderr.removeprefix("error: ").split()[0].rstrip(":")
    assert named.startswith("--") or named.isupper(), result.stderr
    return result.stderr


@pytest.mark.parametrize(("args", "start"), CASES, ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in enumerate(CASES)])
def test_local_errors_name_the_flag(run: Run, estate: None, args: list[str], start: str) -> None:
    line = refusal(run, args)
    assert line.startswith(start), line


def test_remote_errors_name_the_flag(run: Run, server: str, initialised: Path, estate: None) -> None:
    """The server's problem bodies carry the field (``user_id``, ``body.clearance``): the same flags are named."""
    remote = {"REMIT_URL": server, "REMIT_TOKEN": initialised.read_text().strip()}
    for args, start in CASES:
        line = refusal(run, args, env=remote)
        assert line.startswith(start), (args, line)


# -- the mapping itself ------------------------------------------------------------------------------------


def params(*path: str) -> list[Any]:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return list(command.params)


@pytest.mark.parametrize(
    ("path", "field", "label"),
    [
        (("admin-token", "create"), "user_id", "--user"),
        (("admin-token", "create"), "expires_at", "--expires-in"),
        (("agent", "create"), "name", "NAME"),
        (("agent", "create"), "attributes.team", "--attr"),
        (("agent", "list"), "page.limit", "--limit"),
        (("agent", "list"), "page.token", "--cursor"),
        (("agent", "list"), "cursor", "--cursor"),
        (("user", "create"), "id", "USER_ID"),
        (("user", "create"), "display_name", "--name"),
        (("agent", "list"), "url", "--url"),  # a global option after the command
        (("role", "assign"), "name", None),  # the role's or the agent's: the field does not say; left as it is
        (("agent", "list"), "no_such_field", None),
    ],
)
def test_param_label(path: tuple[str, ...], field: str, label: str | None) -> None:
    assert param_label(field, params(*path)) == label


def test_with_field_shapes() -> None:
    create = params("admin-token", "create")
    assert with_field("user_id", "an owner token names the user it acts for", create) == (
        "--user: an owner token names the user it acts for"
    )
    assert with_field("expires_at", "expires_at must be in the future", create) == "--expires-in must be in the future"
    assert with_field("name", "name: too long", create) == "--name: too long"
    assert with_field("name", "name is taken", create) == "--name: name is taken"  # a word, not an identifier
    assert with_field("other", "something", create) == "other: something"  # no parameter: the field, as before
    assert with_field("other", "other: something", create) == "other: something"
    assert with_field(None, "plain", create) == "plain"
    assert describe(ValidationError("bad", field="user_id"), create) == "--user: bad"
    assert describe(NotFound("no such agent 'x'", field="name"), params("agent", "show")) == "NAME: no such agent 'x'"
    assert describe(ValidationError("bad", field="user_id")) == "user_id: bad"  # no command known
