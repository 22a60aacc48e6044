"""``remit init``, ``remit db`` and ``remit whoami`` on a local home."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from tests.cli.conftest import Run


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_home_and_prints_the_token_once(ok: Callable[..., Result], home: Path) -> None:
    result = ok("init")
    tokens = [word for word in result.stdout.split() if word.startswith("remit_adm_")]
    assert len(tokens) == 1
    assert _mode(home) == 0o700
    assert _mode(home / "remit.db") == 0o600
    assert tokens[0].encode() not in (home / "remit.db").read_bytes()  # only its digest is stored
    listed = ok("admin-token", "list", "--json").stdout
    assert tokens[0] not in listed
    assert json.loads(listed)[0]["role"] == "admin"


def test_init_with_a_token_file_writes_it_0600_and_does_not_print_it(ok: Callable[..., Result], tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    result = ok("init", "--admin-token-file", str(token_file))
    secret = token_file.read_text().strip()
    assert secret.startswith("remit_adm_")
    assert _mode(token_file) == 0o600
    assert secret not in result.output
    assert str(token_file) in result.stdout


def test_init_refuses_an_initialised_home_unless_forced(run: Run, initialised: Path) -> None:
    first = initialised.read_text()
    again = run("init", "--admin-token-file", str(initialised))
    assert again.exit_code == 1
    assert "already initialised" in again.stderr
    assert initialised.read_text() == first  # the refusal did not touch the file
    forced = run("init", "--force")
    assert forced.exit_code == 0
    assert "remit_adm_" in forced.stdout
    assert len(json.loads(run("admin-token", "list", "--json").stdout)) == 2


def test_commands_before_init_say_what_to_do(run: Run, home: Path) -> None:
    result = run("agent", "list")
    assert result.exit_code == 1
    assert "remit init" in result.stderr
    assert not home.exists()  # a read did not create the home


def test_db_current_and_upgrade(run: Run, initialised: Path) -> None:
    current = run("db", "current")
    assert current.exit_code == 0
    assert "schema:" in current.stdout
    assert "db upgrade" not in current.stdout
    assert run("db", "upgrade").exit_code == 0


def test_db_current_without_a_database(run: Run) -> None:
    result = run("db", "current")
    assert result.exit_code == 1
    assert "no Remit database" in result.stderr


def test_whoami_local(run: Run, initialised: Path) -> None:
    me = json.loads(run("whoami", "--json").stdout)
    assert me["role"] == "admin"
    assert me["actor"].startswith("local:")
    assert me["location"].startswith("local ")


def test_usage_errors_exit_2(run: Run) -> None:
    assert run("agent", "create").exit_code == 2
    assert run("no-such-command").exit_code == 2
    assert run("agent", "list", "--limit", "0").exit_code == 2
