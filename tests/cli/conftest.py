"""Fixtures for the CLI tests: a fresh ``REMIT_HOME`` under ``tmp_path``, a runner that invokes ``remit``, and a
real ``remit serve`` subprocess on that home."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import typer
import typer.testing
from typer.testing import CliRunner, Result

from remit.cli.main import app

#: environment variables that would point a test at a server or another estate
_ISOLATE = ("REMIT_URL", "REMIT_TOKEN", "REMIT_DATABASE_URL", "REMIT_CONFIG", "REMIT_ENV", "REMIT_DEBUG", "COLUMNS")


@pytest.fixture(scope="session", autouse=True)
def _command_built_once() -> Iterator[None]:
    """``typer.testing.CliRunner`` builds the click command from the Typer app at every invocation (every
    command's signature inspected again), which cost more than most commands themselves: build it once."""
    built: dict[int, Any] = {}
    build = typer.main.get_command

    def once(typer_app: typer.Typer) -> Any:
        command = built.get(id(typer_app))
        if command is None:
            command = built[id(typer_app)] = build(typer_app)
        return command

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", once)
        yield


class Run(Protocol):
    def __call__(self, *args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result: ...


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``REMIT_HOME`` for this test (not created yet)."""
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "home"
    monkeypatch.setenv("REMIT_HOME", str(path))
    return path


@pytest.fixture
def run(home: Path) -> Run:
    """Invoke ``remit`` in-process; a failure never leaves an exception inside the runner."""
    runner = CliRunner()

    def invoke(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input, env=dict(env) if env else None, catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
def ok(run: Run) -> Callable[..., Result]:
    """Invoke ``remit`` and insist on exit code 0."""

    def invoke(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
        result = run(*args, env=env, input=input)
        assert result.exit_code == 0, f"remit {' '.join(args)} -> {result.exit_code}\n{result.output}"
        return result

    return invoke


@pytest.fixture
def as_json(ok: Callable[..., Result]) -> Callable[..., Any]:
    """Invoke ``remit ... --json`` and parse stdout."""

    def invoke(*args: str, env: Mapping[str, str] | None = None) -> Any:
        if "--" in args:  # positional values that may start with "-" (key ids): the option goes before them
            at = args.index("--")
            args = (*args[:at], "--json", *args[at:])
        else:
            args = (*args, "--json")
        return json.loads(ok(*args, env=env).stdout)

    return invoke


@pytest.fixture
def initialised(ok: Callable[..., Result], home: Path, tmp_path: Path) -> Path:
    """An initialised home; returns the file holding its admin token."""
    token_file = tmp_path / "admin-token"
    ok("init", "--admin-token-file", str(token_file))
    return token_file


@pytest.fixture
def estate(initialised: Path, ok: Callable[..., Result]) -> None:
    """An initialised home with two users (alice active, bob active) and a small catalogue."""
    ok("user", "create", "alice", "--email", "alice@example.com", "--name", "Alice")
    ok("user", "create", "bob", "--email", "bob@example.com")
    ok("resource", "create", "helpdesk", "--kind", "mcp_server", "--name", "Helpdesk")
    ok("resource", "create", "helpdesk.get_ticket", "--kind", "tool", "--parent", "helpdesk")
    ok("resource", "create", "helpdesk.close_ticket", "--kind", "tool", "--parent", "helpdesk")


# -- a live server ------------------------------------------------------------------------------------------

STARTUP_POLLS = 150  #: x 0.1 s: how long the server may take to start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    for _ in range(STARTUP_POLLS):
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:
            proc.wait(timeout=0.1)  # a short bounded pause that also notices a server that died
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"remit serve exited with {proc.returncode}:\n{log.read_text()}")
    pytest.fail(f"remit serve did not become healthy:\n{log.read_text()}")


@pytest.fixture
def server(initialised: Path, home: Path, tmp_path: Path) -> Iterator[str]:
    """A running ``remit serve`` on this test's REMIT_HOME; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = {**os.environ, "REMIT_HOME": str(home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "remit", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
