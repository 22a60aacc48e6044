"""What a ``remit`` process imports: the heavy libraries only for the commands that need them (start-up time).

Not timed (``bench/cli.py`` measures the time): each case runs ``remit`` in a fresh interpreter and lists the
modules it had imported when it exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

#: run ``remit ARGS``, then write the modules imported to the file named by argv[1]
PROBE = """
import atexit, json, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["remit", *args]
from remit.cli.main import main
main()
"""

#: what the server needs (``remit serve``), and the schema migrations (``remit init``, ``remit db upgrade``)
SERVER = {"fastapi", "starlette", "uvicorn", "opentelemetry", "prometheus_client", "alembic"}
#: what the token, key and certificate commands need
CRYPTO = {"cryptography", "joserfc", "argon2"}
#: none of them for help: what help needs is Typer and Rich (and pydantic past the root: Typer checks the values
#: of the root's options with it before it reaches a subcommand's ``--help``)
HEAVY = SERVER | CRYPTO | {"sqlalchemy", "httpx", "cedarpy", "pydantic_settings", "yaml", "psycopg"}

#: modules a local read on SQLite does without, though the store or the command tree refer to them
LOCAL_READ_DOES_WITHOUT = {
    "sqlalchemy.dialects.postgresql",  # every PostgreSQL driver's module: ``remit.store.tables.for_postgresql``
    "remit.audit.export",  # ``remit audit export`` and ``verify``
    "remit.audit.ocsf",
    "remit.store.audit",  # the chain's appends: the store's writes
    "remit.audit.chain",
    "rich.progress",  # the progress bars of ``remit keys migrate`` and ``remit audit export``
}


def imported(tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit code of ``remit ARGS`` and the top-level packages it imported."""
    code, modules = imported_modules(tmp_path, *args, env=env)
    return code, {m.split(".")[0] for m in modules}


def imported_modules(tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit code of ``remit ARGS`` and every module it imported."""
    out = tmp_path / "modules.json"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")}
    run_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], env=run_env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, set(json.loads(out.read_text()))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["agent", "--help"], ["agent", "list", "--help"], ["policy", "apply", "--help"], ["serve", "-h"]],
    ids=["root", "group", "command", "policy", "serve"],
)
def test_help_imports_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    code, modules = imported(tmp_path, *args)
    assert code == 0
    assert {"typer", "rich"} <= modules
    assert modules & HEAVY == set()
    if args == ["--help"]:
        assert "pydantic" not in modules


def test_a_local_read_imports_the_store_but_no_server_crypto_or_policy_library(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"REMIT_HOME": str(home)}
    code, _ = imported(tmp_path, "init", "--admin-token-file", str(tmp_path / "token"), env=env)
    assert code == 0
    code, modules = imported_modules(tmp_path, "agent", "list", env=env)
    assert code == 0
    packages = {m.split(".")[0] for m in modules}
    assert {"sqlalchemy", "pydantic"} <= packages
    assert packages & (SERVER | CRYPTO | {"httpx", "yaml", "psycopg", "cedarpy"}) == set()
    assert {"sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "remit.store.tables", "remit.settings"} <= modules
    assert modules & LOCAL_READ_DOES_WITHOUT == set()


def test_a_remote_command_imports_no_store(tmp_path: Path) -> None:
    with_server = {"REMIT_URL": "http://127.0.0.1:9", "REMIT_TOKEN": "remit_adm_x"}  # nothing listens there
    code, modules = imported(tmp_path, "agent", "list", env=with_server)
    assert code == 1  # unreachable
    assert "httpx" in modules
    assert modules & (SERVER | {"sqlalchemy", "cedarpy", "psycopg", "yaml"}) == set()


def test_the_settings_models_do_not_read_their_source_at_import() -> None:
    """pydantic's ``use_attribute_docstrings`` parses ``settings.py`` at each import (~25 ms of every local command):
    the configuration reference reads the field docstrings itself (``scripts/gen_config_docs.py``)."""
    import pydantic

    from remit import settings

    models = [m for m in vars(settings).values() if isinstance(m, type) and issubclass(m, pydantic.BaseModel)]
    assert settings.Settings in models
    assert [m.__name__ for m in models if m.model_config.get("use_attribute_docstrings")] == []


#: run ``remit ARGS`` (argv[2:]) and write to argv[1] how many collections of each generation ``main`` ran
COLLECTIONS = """
import gc, json, sys
out, args = sys.argv[1], sys.argv[2:]
counts = [0, 0, 0]
def count(phase, info):
    if phase == "start":
        counts[info["generation"]] += 1
gc.callbacks.append(count)
sys.argv = ["remit", *args]
from remit.cli.main import main
before = gc.get_threshold()
counts[:] = [0, 0, 0]  # those of the command: not of importing ``remit.cli.main``, before ``main`` starts
try:
    main()
finally:
    open(out, "w").write(json.dumps({"counts": counts, "restored": gc.get_threshold() == before}))
"""


def test_a_local_read_does_not_make_the_collector_walk_its_start_up_again_and_again(tmp_path: Path) -> None:
    """At CPython's default thresholds a local read ran ~200 collections and a full one, walking the modules and
    mappings it had just built (~40 ms); ``main`` runs with ``CLI_GC_THRESHOLDS`` and restores the caller's."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")} | {"REMIT_HOME": str(home)}
    code, _ = imported(tmp_path, "init", "--admin-token-file", str(tmp_path / "token"), env={"REMIT_HOME": str(home)})
    assert code == 0
    out = tmp_path / "gc.json"
    done = subprocess.run(
        [sys.executable, "-c", COLLECTIONS, str(out), "agent", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(out.read_text())
    assert got["restored"]
    young, middle, full = got["counts"]
    assert young + middle < 20, got
    assert full == 0, got
