"""The CLI start-up benchmark: how long ``remit`` takes to answer, beside Python and a bare Typer app, in one run.

    .venv/bin/python bench/cli.py            # ~1 minute (or: make bench-cli)
    .venv/bin/python bench/cli.py --quick    # ~15 s

Every variant is a fresh process, timed wall-clock from spawn to exit (what a person typing the command waits for),
interleaved round by round in shuffled order so that noise on a shared machine hits every variant alike:

a. ``python -c pass``: the interpreter's own start;
b. the Typer floor: a bare Typer app of the same shape as remit's command tree (the same groups and commands, as
   many parameters per command and at the root, each a plain string option), answering ``--help``: what Typer and
   Rich cost;
c. ``remit --help``. Target: under 0.2 s;
d. a local read: ``remit agent list`` on the demo estate (``remit demo --no-serve``: a dozen agents in SQLite).
   Target: under 0.5 s;
e. for information, the floor of a local read: the bare Typer app's ``agent list`` reading the same ``agents`` table
   with SQLAlchemy Core into a Rich table: what Typer, Rich, SQLAlchemy and SQLite cost.

Bytecode: the processes cache it under a private ``PYTHONPYCACHEPREFIX`` (an untimed first run of each variant fills
it), as an installed package has it, whatever ``PYTHONDONTWRITEBYTECODE`` says in the caller's environment.

It prints the median and p90 of each variant, remit's figures as ratios to their floors, which targets were met
(PASS or MISS), and the modules a local read imports by top-level package (``python -X importtime``); it always
exits 0.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import typer
import typer.core
import typer.main
from rich.console import Console
from rich.table import Table

from remit.cli.main import app

console = Console(highlight=False, soft_wrap=True)

HELP_TARGET = 0.2  #: seconds, ``remit --help``
READ_TARGET = 0.5  #: seconds, a local ``remit agent list``


@dataclass
class Variant:
    name: str
    argv: list[str]
    times: list[float] = field(default_factory=list)  #: wall-clock seconds, spawn to exit
    cpu: list[float] = field(default_factory=list)  #: user + system CPU seconds of the process

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def floor_app_source(database: Path) -> str:
    """A bare Typer app with remit's command tree's shape; its ``agent list`` reads the agents of ``database``."""
    lines = [
        '"""The Typer floor: remit\'s command tree\'s shape, nothing of remit."""',
        "from typing import Annotated",
        "",
        "import typer",
        "",
        'app = typer.Typer(help="The floor.", no_args_is_help=True, add_completion=False)',
    ]
    count = 0

    def emit(group: typer.core.TyperGroup, var: str, path: tuple[str, ...]) -> None:
        nonlocal count
        for name, command in group.commands.items():
            count += 1
            if isinstance(command, typer.core.TyperGroup):
                sub = f"g{count}"
                lines.append(f'{sub} = typer.Typer(help="Group {count}.", no_args_is_help=True)')
                emit(command, sub, (*path, name))
                lines.append(f'{var}.add_typer({sub}, name="{name}")')
                continue
            params = [p for p in command.params if p.expose_value]
            lines.append(f'@{var}.command("{name}")')
            lines.append(f"def c{count}({_options(len(params))}) -> None:")
            lines.append(f'    """Command {count}."""')
            if (*path, name) == ("agent", "list"):
                lines.extend(_floor_read(database))
            else:
                lines.append('    typer.echo("done")')

    root = typer.main.get_group(app)
    options = [p for p in root.params if p.expose_value]  # remit's global options: Typer checks them on every run
    lines.append("@app.callback()")
    lines.append(f"def root({_options(len(options))}) -> None:")
    lines.append('    """The root."""')
    emit(root, "app", ())
    lines.append('if __name__ == "__main__":')
    lines.append("    app()")
    return "\n".join(lines) + "\n"


def _options(count: int) -> str:
    return ", ".join(
        f'p{k}: Annotated[str | None, typer.Option("--p{k}", help="Option {k}.")] = None' for k in range(count)
    )


def _floor_read(database: Path) -> list[str]:
    return [
        "    import sqlalchemy as sa",
        "    from rich.console import Console",
        "    from rich.table import Table",
        "",
        f'    engine = sa.create_engine("sqlite:///{database}")',
        "    columns = ('name', 'owner', 'status', 'team', 'environment', 'risk_tier')",
        "    with engine.connect() as db:",
        "        rows = db.execute(sa.text(f\"SELECT {', '.join(columns)} FROM agents ORDER BY name LIMIT 50\")).all()",
        '    table = Table(title=f"Agents ({len(rows)})")',
        "    for c in columns:",
        "        table.add_column(c)",
        "    for row in rows:",
        "        table.add_row(*[str(v) for v in row])",
        "    Console().print(table)",
    ]


def environment(tmp: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(REMIT_HOME=str(home), PYTHONPYCACHEPREFIX=str(tmp / "pycache"), COLUMNS="100")
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds) of one run of ``argv``, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603 - ours
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {err}")
    return elapsed, usage.ru_utime + usage.ru_stime


def imports_by_package(argv: list[str], env: dict[str, str]) -> Counter[str]:
    """Self time of every module a run imports (``-X importtime``), in ms, by top-level package."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [argv[0], "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True, check=False
    )
    totals: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if m:
            totals[m.group(2).split(".")[0]] += int(m.group(1))
    return Counter({k: v // 1000 for k, v in totals.items()})


def report(variants: dict[str, Variant], rounds: int) -> None:
    floor_help, floor_read = variants["floor --help"], variants["floor read"]
    table = Table(title=f"CLI start-up, wall-clock per process ({rounds} rounds)", title_justify="left")
    for col in ("variant", "median", "p90", "CPU median", "ratio to floor", "target", ""):
        table.add_column(col, justify="left" if col == "variant" else "right")
    rows: list[tuple[Variant, Variant | None, float | None]] = [
        (variants["python -c pass"], None, None),
        (floor_help, None, None),
        (variants["remit --help"], floor_help, HELP_TARGET),
        (floor_read, None, None),
        (variants["remit agent list"], floor_read, READ_TARGET),
    ]
    for v, floor, target in rows:
        ratio = f"{v.median / floor.median:.2f}x" if floor is not None else ""
        verdict = "" if target is None else "[green]PASS[/green]" if v.median < target else "[red]MISS[/red]"
        table.add_row(
            v.name,
            f"{v.median * 1000:.0f} ms",
            f"{v.p90 * 1000:.0f} ms",
            f"{v.cpu_median * 1000:.0f} ms",
            ratio,
            "" if target is None else f"< {target * 1000:.0f} ms",
            verdict,
        )
    console.print(table)
    help_, read = variants["remit --help"], variants["remit agent list"]
    console.print(
        f"remit --help     ours {help_.median * 1000:.0f} ms   baseline (bare Typer app, same tree) "
        f"{floor_help.median * 1000:.0f} ms   ratio {help_.median / floor_help.median:.2f}x"
    )
    console.print(
        f"remit agent list ours {read.median * 1000:.0f} ms   baseline (bare Typer app + SQLAlchemy read) "
        f"{floor_read.median * 1000:.0f} ms   ratio {read.median / floor_read.median:.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (~15 s)")
    args = parser.parse_args(argv)
    rounds, seconds = (8, 20.0) if args.quick else (30, 90.0)
    console.print(
        f"[bold]Remit CLI start-up benchmark[/bold] ({'quick' if args.quick else 'full'} run) · Python "
        f"{sys.version.split()[0]} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}"
    )
    python = sys.executable
    remit = str(Path(python).with_name("remit"))
    with tempfile.TemporaryDirectory(prefix="remit-bench-cli-") as name:
        tmp = Path(name)
        home = tmp / "home"
        env = environment(tmp, home)
        subprocess.run([remit, "demo", "--no-serve"], env=env, stdout=subprocess.DEVNULL, check=True)  # noqa: S603
        floor = tmp / "floor.py"
        floor.write_text(floor_app_source(home / "remit.db"), encoding="utf-8")
        variants = {
            v.name: v
            for v in (
                Variant("python -c pass", [python, "-c", "pass"]),
                Variant("floor --help", [python, str(floor), "--help"]),
                Variant("remit --help", [remit, "--help"]),
                Variant("floor read", [python, str(floor), "agent", "list"]),
                Variant("remit agent list", [remit, "agent", "list"]),
            )
        }
        for v in variants.values():  # untimed: fills the bytecode cache
            run_once(v.argv, env)
        started = time.perf_counter()
        done = 0
        order = list(variants.values())
        while done < rounds and (done < 3 or time.perf_counter() - started < seconds):
            random.shuffle(order)
            for v in order:
                wall, cpu = run_once(v.argv, env)
                v.times.append(wall)
                v.cpu.append(cpu)
            done += 1
        report(variants, done)
        read = imports_by_package([python, "-m", "remit", "agent", "list"], env)
        heavy = ", ".join(f"{name} {ms} ms" for name, ms in read.most_common(8))
        console.print(f"[dim]a local read imports (self time, -X importtime, by package): {heavy}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
