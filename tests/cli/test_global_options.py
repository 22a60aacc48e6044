"""The global options (``--url``, ``--token-file``, ``--home``) before the subcommand or after it, with one meaning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from tests.cli.conftest import Run

Ok = Callable[..., Result]


@pytest.fixture
def other_home(tmp_path: Path, ok: Ok) -> Path:
    """A second initialised home holding one user, ``carol``."""
    other = tmp_path / "other"
    ok("--home", str(other), "init", "--admin-token-file", str(tmp_path / "other-token"))
    ok("--home", str(other), "user", "create", "carol", "--email", "carol@example.com")
    return other


def user_ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [u["id"] for u in json.loads(result.stdout)]


@pytest.mark.parametrize(
    "args",
    [
        ["--home", "{home}", "user", "list", "--json"],  # before the subcommand, as ever
        ["user", "--home", "{home}", "list", "--json"],  # after the group
        ["user", "list", "--home", "{home}", "--json"],  # after the command
        ["user", "list", "--json", "--home={home}"],
    ],
    ids=["before", "after-group", "after-command", "last"],
)
def test_home_in_any_position(run: Run, estate: None, other_home: Path, args: list[str]) -> None:
    assert user_ids(run("user", "list", "--json")) == ["alice", "bob"]  # REMIT_HOME
    assert user_ids(run(*[a.format(home=other_home) for a in args])) == ["carol"]


def test_the_command_line_wins_over_the_environment(run: Run, estate: None, other_home: Path) -> None:
    """REMIT_HOME is the estate; --home after the command picks another, with no complaint about two values."""
    assert user_ids(run("user", "list", "--json", "--home", str(other_home))) == ["carol"]


def test_twice_with_different_values_is_a_usage_error(run: Run, estate: None, other_home: Path, home: Path) -> None:
    result = run("--home", str(home), "user", "list", "--home", str(other_home))
    assert result.exit_code == 2
    out = " ".join(result.output.replace("│", " ").split())
    assert "--home" in out and "given twice with different values" in out
    # the same value twice is no conflict (nor a differently spelled same directory)
    assert user_ids(run("--home", str(home), "user", "list", "--json", "--home", f"{home}/.")) == ["alice", "bob"]


def test_url_and_token_file_after_the_command(
    run: Run, server: str, initialised: Path, estate: None, other_home: Path
) -> None:
    """The server's estate is REMIT_HOME's; --home names another, so that a local answer would differ."""
    remote = ["--url", server, "--token-file", str(initialised)]
    before = run(*remote, "--home", str(other_home), "user", "list", "--json")
    after = run("--home", str(other_home), "user", "list", "--json", *remote)
    assert user_ids(before) == user_ids(after) == ["alice", "bob"]  # the server's users, not carol
    whoami = json.loads(run("whoami", "--json", *remote).stdout)
    assert whoami["location"] == server and whoami["actor"].startswith("token:")


def test_url_after_the_command_is_used(run: Run, initialised: Path) -> None:
    """Nothing listens on port 9: the command went there instead of reading the local estate."""
    result = run("agent", "list", "--url", "http://127.0.0.1:9", "--token-file", str(initialised))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach http://127.0.0.1:9")


def test_twice_with_different_urls_is_a_usage_error(run: Run, initialised: Path) -> None:
    result = run("--url", "http://127.0.0.1:9", "agent", "list", "--url", "http://127.0.0.1:10")
    assert result.exit_code == 2
    assert "given twice with different values" in " ".join(result.output.replace("│", " ").split())
