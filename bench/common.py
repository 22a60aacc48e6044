"""What the benchmarks share: targets as ratios and their summary, percentiles, a process's CPU time, and serving
an app on an ephemeral port that is announced once the app has started."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    ratio: float | None  #: None: not measured in this run
    limit: float
    at_least: bool = False  #: the ratio must be >= limit (throughput) rather than <= (latency)
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio >= self.limit if self.at_least else self.ratio <= self.limit

    @property
    def wanted(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.limit:.2f}x"

    @property
    def verdict(self) -> str:
        met = self.met
        return "[dim]n/a[/dim]" if met is None else "[green]PASS[/green]" if met else "[red]FAIL[/red]"


#: every target of this run, in the order measured
TARGETS: list[Target] = []


def target(name: str, ratio: float | None, limit: float, *, at_least: bool = False, note: str = "") -> Target:
    t = Target(name, ratio, limit, at_least, note)
    TARGETS.append(t)
    return t


def summary_table(console: Console, suffix: str = "") -> None:
    table = Table(title="Targets")
    for col in ("target", "ratio", "wanted", ""):
        table.add_column(col, justify="left" if col == "target" else "right")
    for t in TARGETS:
        ratio = "—" if t.ratio is None else f"{t.ratio:.2f}x"
        table.add_row(t.name + (f" [dim]({t.note})[/dim]" if t.note else ""), ratio, t.wanted, t.verdict)
    console.print(table)
    measured = [t for t in TARGETS if t.met is not None]
    met = sum(1 for t in measured if t.met)
    console.print(f"[bold]{met} of {len(measured)} measured targets met[/bold]" + suffix)


def percentile(sorted_values: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc (Linux); 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_announcing_port(app: Any) -> None:
    """Serve ``app`` on 127.0.0.1 on an ephemeral port with one uvicorn worker (access log off); print
    ``PORT <n>`` once its lifespan has started; exit when terminated."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original(sockets=sockets)
        print(f"PORT {port}", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])
    sys.exit(0)
