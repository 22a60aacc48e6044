"""The policy decision point benchmark: Remit beside bare cedarpy, in process and over HTTP, in one run.

    .venv/bin/python bench/pdp.py            # the full run (~5 minutes on two cores)
    .venv/bin/python bench/pdp.py --quick    # a short run (~1 minute): fewer sizes, fewer samples

On a realistic agent estate (``bench/estate.py``: ~280 and ~27k entities; 36, 1k and 10k policies) it measures

1. a decision in process: bare ``cedarpy.is_authorized`` on the same pre-built request with the FULL policy set
   and the FULL entity set parsed once (the engine's own cost), against ``PolicyEngine.evaluate`` (Remit: guard,
   policy and entity slicing, one Cedar call, fail-closed result);
2. how Remit's tail grows with the number of policies (10k against 36), and bare Cedar's, to show why slicing;
3. how Remit's median grows with the number of entities (27k against 280);
4. over HTTP on one uvicorn worker: Remit's AuthZEN endpoint, a minimal endpoint on the same app making the
   same bare cedarpy call, and a no-op JSON endpoint (``bench/pdp_server.py``), driven by one keep-alive client
   (``bench/http_load.py``); plus a diagnostic endpoint (AuthZEN with the bearer token checked once) that tells
   the cost of the per-request token check apart from the cost of the decision;
5. for information, the first request of a (principal, action, resource), when the slices are built.

Each estate gets its own temporary home (SQLite); each policy set is applied with ``PolicyService.apply`` and
compiled by ``remit.refresher.refresh(force=True)``, and its compiled state is kept in a ``PolicyEngine`` (the
class behind ``remit.pdp``) so that every configuration can be measured in the same loop.

Variants are interleaved call by call (in process) or round by round (HTTP), in shuffled order, so that noise on a
shared machine hits them alike. It prints one table per section, then which targets were met; it always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import cedarpy
import estate as est
import http_load
import httpx
from common import TARGETS, Target, cpu_seconds, percentile, summary_table, target
from rich.console import Console
from rich.table import Table

from remit.admin.access import AdminRole
from remit.container import Remit
from remit.policy.engine import PolicyEngine
from remit.policy.model import EntityRef
from remit.policy.state import CompiledState
from remit.settings import load_settings

HERE = Path(__file__).resolve().parent
AUTHZEN_PATH = "/access/v1/evaluation"
DIAGNOSTIC = "diagnostic: AuthZEN, token checked once"
DIAGNOSTIC_FIRST = "diagnostic: AuthZEN, token checked once, routed first"
ONCE, ONCE_FIRST = "/bench/authzen-token-once", "/bench/authzen-token-once-first"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


# -- targets ------------------------------------------------------------------------------------------------


# -- statistics ---------------------------------------------------------------------------------------------


@dataclass
class Samples:
    ns: list[int] = field(default_factory=list)
    _sorted: list[int] | None = None

    def add(self, value: int) -> None:
        self.ns.append(value)
        self._sorted = None

    def _values(self) -> list[int]:
        if self._sorted is None:
            self._sorted = sorted(self.ns)
        return self._sorted

    @property
    def median_us(self) -> float:
        return percentile(self._values(), 0.5) / 1000

    @property
    def p99_us(self) -> float:
        return percentile(self._values(), 0.99) / 1000

    def __len__(self) -> int:
        return len(self.ns)


# -- setup: estates, policy sets, compiled states ---------------------------------------------------------


@dataclass
class Config:
    """One (estate size, policy count): Remit's compiled engine and bare Cedar's handles over the same data."""

    size: est.Size
    policies: int
    version: int
    engine: PolicyEngine
    raw_policies: cedarpy.PolicySet
    raw_entities: cedarpy.Entities
    requests: list[est.BenchRequest]
    slice_policies: float = 0.0  #: mean policies Remit hands Cedar per request
    slice_entities: float = 0.0  #: mean entities Remit hands Cedar per request
    allowed: int = 0
    agree: int = 0
    cold: Samples = field(default_factory=Samples)  #: first request of a (principal, action, resource): slices built
    #: per request: the bare-Cedar call on Remit's own slice, or None when Remit answers without Cedar
    on_slice: list[tuple[dict[str, Any], cedarpy.PolicySet, cedarpy.Entities] | None] = field(default_factory=list)
    raw_slice: Samples = field(default_factory=Samples)  #: bare cedarpy on Remit's slice
    remit_routed: Samples = field(default_factory=Samples)  #: Remit, on the requests that reach Cedar
    remit: Samples = field(default_factory=Samples)
    raw: Samples = field(default_factory=Samples)
    raw_every: int = 1  #: bare Cedar at 10k policies costs milliseconds: sample it every n-th round

    @property
    def label(self) -> str:
        return f"{self.size.entities:,} entities · {self.policies:,} policies"


def raw_entities(state: CompiledState) -> cedarpy.Entities:
    return cedarpy.Entities.from_json_str(json.dumps(list(state.stored.values())))


def raw_policies(state: CompiledState) -> cedarpy.PolicySet:
    document = {"staticPolicies": {p.id: p.est for p in state.index.policies}, "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))


def check(config: Config) -> None:
    """Warm Remit's caches, record slice sizes, and confirm Remit and bare Cedar decide every request alike."""
    state = config.engine.state
    assert state is not None
    policies = entities = routed = 0
    for request in config.requests:
        decision = config.engine.evaluate(request.engine)
        raw = cedarpy.is_authorized(request.cedar, config.raw_policies, config.raw_entities)
        config.allowed += decision.allowed
        config.agree += decision.allowed == raw.allowed
        q = request.engine
        route = state.cached_route((q.principal, q.action, q.resource))
        if route is not None:
            policies += len(
                state.index.candidates(
                    q.principal,
                    state.up(q.principal),
                    q.action,
                    state.up(EntityRef("Action", q.action)),
                    q.resource,
                    state.up(q.resource),
                )
            )
            entities += len(route[1])
            routed += 1
        config.on_slice.append((request.cedar, route[0], route[1]) if route is not None else None)
    config.slice_policies = policies / max(1, routed)
    config.slice_entities = entities / max(1, routed)


def measure_cold(config: Config, requests: Sequence[est.BenchRequest]) -> None:
    """Requests whose (principal, action, resource) the engine has not seen: the slices are built on the way."""
    state = config.engine.state
    assert state is not None
    for request in requests:
        q = request.engine
        if state.cached_route((q.principal, q.action, q.resource)) is not None:
            continue
        t0 = time.perf_counter_ns()
        config.engine.evaluate(q)
        config.cold.add(time.perf_counter_ns() - t0)


def prepare(
    size: est.Size, counts: Sequence[int], home: Path, n_requests: int, n_cold: int
) -> tuple[Remit, dict[int, Config], dict[int, int]]:
    """Build the estate in a fresh home, apply and compile each policy set; the container stays open."""
    started = time.perf_counter()
    remit = Remit.from_settings(load_settings(home=home))
    estate = est.build(remit, size)
    requests = est.requests(estate, n_requests)
    cold = est.requests(estate, n_cold, seed=99)
    console.print(f"  {size.entities:,} entities written in {time.perf_counter() - started:.1f} s")
    configs: dict[int, Config] = {}
    versions: dict[int, int] = {}
    entities: cedarpy.Entities | None = None
    for count in counts:
        t0 = time.perf_counter()
        version = remit.policies.apply(est.ADMIN, est.policies(estate, count), comment=f"bench: {count} policies")
        t1 = time.perf_counter()
        remit.refresher.refresh(force=True)
        t2 = time.perf_counter()
        state = remit.pdp.state
        assert state is not None and len(state.index) == count, "the policy count is not what was asked for"
        if entities is None:  # the same registry under every policy set: parse the full entity set once
            entities = raw_entities(state)
        config = Config(
            size=size,
            policies=count,
            version=version.version,
            engine=PolicyEngine(state),
            raw_policies=raw_policies(state),
            raw_entities=entities,
            requests=requests,
            raw_every=max(1, count // 125),
        )
        check(config)
        measure_cold(config, cold)
        configs[count] = config
        versions[count] = version.version
        console.print(
            f"  {count:,} policies: applied (validated) in {t1 - t0:.1f} s, compiled in {t2 - t1:.1f} s; "
            f"{config.allowed}/{len(requests)} allowed; Remit and bare Cedar agree on {config.agree}/{len(requests)}"
        )
    return remit, configs, versions


# -- in process ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One variant of the in-process loop."""

    samples: Samples
    fn: Callable[[Any], Any]
    args: list[Any]  #: one per request; None: nothing to time for this request
    every: int = 1  #: take part every n-th round only
    also: tuple[Samples, list[bool]] | None = None  #: also record into these samples where the mask is true


def _on_slice(arg: tuple[dict[str, Any], cedarpy.PolicySet, cedarpy.Entities]) -> Any:
    return cedarpy.is_authorized(*arg)


def measure_in_process(configs: Sequence[Config], *, rounds: int, seconds: float, seed: int = 5) -> int:
    """Round by round, each variant decides the round's request once, in shuffled order; bounded by time."""
    rng = random.Random(seed)
    calls: list[Call] = []
    for c in configs:
        routed = [arg is not None for arg in c.on_slice]
        calls.append(Call(c.remit, c.engine.evaluate, [r.engine for r in c.requests], also=(c.remit_routed, routed)))

        def raw_call(request: dict[str, Any], c: Config = c) -> Any:
            return cedarpy.is_authorized(request, c.raw_policies, c.raw_entities)

        calls.append(Call(c.raw, raw_call, [r.cedar for r in c.requests], every=c.raw_every))
        if c.policies == est.BASE_POLICIES:  # the wrapper's own cost: bare Cedar on exactly what Remit hands it
            calls.append(Call(c.raw_slice, _on_slice, list(c.on_slice)))
    gc.collect()
    gc.freeze()  # the estates are long-lived: keep the collector from walking them during the measurement
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    done = 0
    for i in range(rounds):
        order = [call for call in calls if i % call.every == 0]
        rng.shuffle(order)
        for call in order:
            k = i % len(call.args)
            arg = call.args[k]
            if arg is None:
                continue
            t0 = clock()
            call.fn(arg)
            elapsed = clock() - t0
            call.samples.add(elapsed)
            if call.also is not None and call.also[1][k]:
                call.also[0].add(elapsed)
        done = i + 1
        if i % 64 == 0 and time.perf_counter() > deadline:
            break
    gc.unfreeze()
    return done


def in_process_tables(configs: list[Config]) -> None:
    table = Table(title="1. Decision in process: Remit vs bare cedarpy (full policy and entity sets, parsed once)")
    for col in ("variant", "Cedar evaluates", "samples", "median µs", "p99 µs", "ratio (median / p99)", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "Cedar evaluates", "target") else "right")
    for c in configs:
        table.add_row(
            f"bare cedarpy · {c.label}",
            f"{c.policies:,} pol. · {c.size.entities:,} ent.",
            f"{len(c.raw):,}",
            f"{c.raw.median_us:,.1f}",
            f"{c.raw.p99_us:,.1f}",
            "baseline",
            "",
            "",
        )
        med, p99 = c.remit.median_us / c.raw.median_us, c.remit.p99_us / c.raw.p99_us
        a = target(f"in process, median vs bare cedarpy ({c.label})", med, 1.10)
        b = target(f"in process, p99 vs bare cedarpy ({c.label})", p99, 1.25)
        table.add_row(
            f"Remit in process · {c.label}",
            f"{c.slice_policies:.1f} pol. · {c.slice_entities:.1f} ent.",
            f"{len(c.remit):,}",
            f"{c.remit.median_us:,.1f}",
            f"{c.remit.p99_us:,.1f}",
            f"{med:.2f}x / {p99:.2f}x",
            "≤ 1.10x / ≤ 1.25x",
            _both(a, b),
            end_section=not len(c.raw_slice),
        )
        if len(c.raw_slice):
            routed = sum(1 for arg in c.on_slice if arg is not None)
            table.add_row(
                f"[dim]bare cedarpy on Remit's slice ({routed}/{len(c.requests)} requests reach Cedar)[/dim]",
                f"{c.slice_policies:.1f} pol. · {c.slice_entities:.1f} ent.",
                f"{len(c.raw_slice):,}",
                f"{c.raw_slice.median_us:,.1f}",
                f"{c.raw_slice.p99_us:,.1f}",
                "",
                "",
                "",
            )
            med = c.remit_routed.median_us / c.raw_slice.median_us
            p99 = c.remit_routed.p99_us / c.raw_slice.p99_us
            table.add_row(
                "[dim]Remit on the same requests: its wrapper's cost[/dim]",
                "",
                f"{len(c.remit_routed):,}",
                f"{c.remit_routed.median_us:,.1f}",
                f"{c.remit_routed.p99_us:,.1f}",
                f"{med:.2f}x / {p99:.2f}x",
                "(no target)",
                "",
                end_section=True,
            )
    console.print(table)

    by_size: dict[str, dict[int, Config]] = {}
    for c in configs:
        by_size.setdefault(c.size.name, {})[c.policies] = c
    table = Table(title="2. Policy count: p99 at 1k and 10k policies vs 36 (same estate)")
    for col in ("variant", "median µs", "p99 µs", "ratio (p99)", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "target") else "right")
    for group in by_size.values():
        base = group.get(est.BASE_POLICIES)
        if base is None:
            continue
        for kind in ("Remit", "bare cedarpy"):
            for count, c in sorted(group.items()):
                s = c.remit if kind == "Remit" else c.raw
                ref = base.remit if kind == "Remit" else base.raw
                ratio = s.p99_us / ref.p99_us
                if count == est.BASE_POLICIES:
                    cells = ["baseline", "", ""]
                elif kind == "Remit" and count >= 10_000:
                    t = target(
                        f"p99 at {count:,} vs {base.policies} policies ({c.size.entities:,} entities)", ratio, 2.0
                    )
                    cells = [f"{ratio:.2f}x", t.wanted, t.verdict]
                else:
                    cells = [f"{ratio:.2f}x", "(shown for scale)", ""]
                last = kind == "bare cedarpy" and count == max(group)
                table.add_row(
                    f"{kind} · {c.label}", f"{s.median_us:,.1f}", f"{s.p99_us:,.1f}", *cells, end_section=last
                )
    console.print(table)

    table = Table(title="3. Entity count: median at ~27k entities vs ~280 (same policy count)")
    for col in ("variant", "median µs", "p99 µs", "ratio (median / p99)", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "target") else "right")
    small, large = by_size.get("small", {}), by_size.get("large", {})
    for count in sorted(set(small) & set(large)):
        lo, hi = small[count], large[count]
        for kind in ("Remit", "bare cedarpy"):
            a_s, b_s = (lo.remit, hi.remit) if kind == "Remit" else (lo.raw, hi.raw)
            med, p99 = b_s.median_us / a_s.median_us, b_s.p99_us / a_s.p99_us
            table.add_row(f"{kind} · {lo.label}", f"{a_s.median_us:,.1f}", f"{a_s.p99_us:,.1f}", "baseline", "", "")
            if kind == "Remit":
                t = target(
                    f"median at {hi.size.entities:,} vs {lo.size.entities} entities ({count:,} policies)", med, 1.10
                )
                cells = [t.wanted + " (median)", t.verdict]
            else:
                cells = ["(shown for scale)", ""]
            table.add_row(
                f"{kind} · {hi.label}",
                f"{b_s.median_us:,.1f}",
                f"{b_s.p99_us:,.1f}",
                f"{med:.2f}x / {p99:.2f}x",
                *cells,
                end_section=True,
            )
    console.print(table)


def cold_table(configs: list[Config]) -> None:
    table = Table(
        title="5. The first request of a (principal, action, resource): slices built, then cached (no target)",
        caption="Every later request with the same three is served from the slice cache, as in sections 1-3.",
    )
    for col in ("variant", "samples", "median µs", "p99 µs", "vs cached median"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for c in configs:
        if len(c.cold):
            ratio = c.cold.median_us / c.remit.median_us
            table.add_row(
                f"Remit, first request · {c.label}",
                f"{len(c.cold):,}",
                f"{c.cold.median_us:,.1f}",
                f"{c.cold.p99_us:,.1f}",
                f"{ratio:.2f}x",
            )
    console.print(table)


def _both(a: Target, b: Target) -> str:
    return "[green]PASS[/green]" if a.met and b.met else f"{a.verdict} / {b.verdict}"


# -- HTTP ---------------------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    path: str
    payloads: list[bytes]
    result: http_load.LoadResult = field(default_factory=http_load.LoadResult)
    rates: list[float] = field(default_factory=list)
    server_cpu: float = 0.0


def start_server(home: Path, token: str) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    env.pop("REMIT_CONFIG", None)
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(HERE / "pdp_server.py"), "--home", str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdin.write(token + "\n")
    proc.stdin.close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("PORT "):
            return proc, int(line.split()[1])
    proc.kill()
    raise RuntimeError("the benchmark server did not start (see its output above)")


def measure_http(
    config: Config,
    home: Path,
    token: str,
    *,
    rounds: int,
    per_round: int,
    round_seconds: float,
    concurrency: int,
    checks: int,
) -> None:
    proc, port = start_server(home, token)
    try:
        bodies = [json.dumps(r.authzen, separators=(",", ":")).encode() for r in config.requests]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            probe = client.post(AUTHZEN_PATH, content=bodies[0], headers={"Content-Type": "application/json"})
            available = probe.status_code == 200 and "decision" in probe.json()
            agree = 0
            sample = list(zip(config.requests, bodies, strict=True))[:checks]
            if available:
                for request, body in sample:
                    answer = client.post(AUTHZEN_PATH, content=body, headers={"Content-Type": "application/json"})
                    agree += answer.json().get("decision") == config.engine.evaluate(request.engine).allowed
            raw_agree = 0
            for request, body in sample:
                answer = client.post("/bench/raw", content=body, headers={"Content-Type": "application/json"})
                raw_agree += answer.json().get("decision") == config.engine.evaluate(request.engine).allowed
        n = len(sample)
        console.print(
            f"  server on 127.0.0.1:{port} ({config.label}); /bench/raw agrees with Remit on {raw_agree}/{n}; "
            + (
                f"AuthZEN agrees with Remit in process on {agree}/{n}"
                if available
                else f"[red]AuthZEN endpoint not available[/red] (POST {AUTHZEN_PATH}: {probe.status_code})"
            )
        )
        endpoints = [
            Endpoint("no-op JSON endpoint", "/bench/noop", http_load.encode("/bench/noop", bodies, headers)),
            Endpoint("minimal endpoint, bare cedarpy", "/bench/raw", http_load.encode("/bench/raw", bodies, headers)),
        ]
        if available:
            endpoints.append(
                Endpoint("Remit AuthZEN evaluation", AUTHZEN_PATH, http_load.encode(AUTHZEN_PATH, bodies, headers))
            )
            for name, path in ((DIAGNOSTIC, ONCE), (DIAGNOSTIC_FIRST, ONCE_FIRST)):
                endpoints.append(Endpoint(name, path, http_load.encode(path, bodies, headers)))
        rng = random.Random(3)

        async def drive() -> None:
            for e in endpoints:  # warm up: connections, caches, the thread pool
                await http_load.run(
                    "127.0.0.1", port, e.payloads, total=per_round // 4, concurrency=concurrency, max_seconds=0.5
                )
            for _ in range(rounds):
                order = list(endpoints)
                rng.shuffle(order)
                for e in order:
                    cpu0 = cpu_seconds(proc.pid)
                    r = await http_load.run(
                        "127.0.0.1",
                        port,
                        e.payloads,
                        total=per_round,
                        concurrency=concurrency,
                        max_seconds=round_seconds,
                    )
                    e.server_cpu += cpu_seconds(proc.pid) - cpu0
                    e.rates.append(r.per_second)
                    e.result.requests += r.requests
                    e.result.seconds += r.seconds
                    e.result.latencies_ns.extend(r.latencies_ns)
                    e.result.statuses.update(r.statuses)
                    e.result.client_cpu_seconds += r.client_cpu_seconds

        asyncio.run(drive())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    http_table(endpoints, config, concurrency)


def http_table(endpoints: list[Endpoint], config: Config, concurrency: int) -> None:
    table = Table(
        title=f"4. Over HTTP: one uvicorn worker, {concurrency} keep-alive connections ({config.label})",
        caption="req/s: median of the rounds; latency: all requests of all rounds; CPU: server process per request",
    )
    for col in ("variant", "req/s", "p50 µs", "p99 µs", "server CPU µs/req", "non-200", "ratio", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "ratio", "target") else "right")
    stats: dict[str, tuple[float, float, float]] = {}
    for e in endpoints:
        lat = sorted(e.result.latencies_ns)
        rate = sorted(e.rates)[len(e.rates) // 2] if e.rates else 0.0
        p50, p99 = percentile(lat, 0.5) / 1000, percentile(lat, 0.99) / 1000
        stats[e.path] = (rate, p50, p99)
        bad = sum(v for k, v in e.result.statuses.items() if k != 200)
        cpu = e.server_cpu / e.result.requests * 1e6 if e.result.requests else 0.0
        table.add_row(e.name, f"{rate:,.0f}", f"{p50:,.0f}", f"{p99:,.0f}", f"{cpu:,.0f}", str(bad), "", "", "")
    client_cpu = sum(e.result.client_cpu_seconds for e in endpoints) / max(
        1.0, sum(e.result.seconds for e in endpoints)
    )
    noop, raw = stats.get("/bench/noop"), stats.get("/bench/raw")
    authzen = stats.get(AUTHZEN_PATH)
    if authzen is None or noop is None or raw is None:
        for name, limit, at_least in (
            ("AuthZEN req/s vs minimal bare-cedarpy endpoint", 0.90, True),
            ("AuthZEN req/s vs no-op endpoint", 0.40, True),
            ("AuthZEN p99 vs no-op endpoint", 4.0, False),
        ):
            target(name, None, limit, at_least=at_least, note="AuthZEN endpoint not available")
    else:
        rows = (
            target("AuthZEN req/s vs minimal bare-cedarpy endpoint", authzen[0] / raw[0], 0.90, at_least=True),
            target("AuthZEN req/s vs no-op endpoint", authzen[0] / noop[0], 0.40, at_least=True),
            target("AuthZEN p99 vs no-op endpoint", authzen[2] / noop[2], 4.0),
        )
        for t in rows:
            table.add_row(f"[italic]{t.name}[/italic]", "", "", "", "", "", f"{t.ratio:.2f}x", t.wanted, t.verdict)
        for label, path in (("diagnostic", ONCE), ("diagnostic, routed first", ONCE_FIRST)):
            d = stats.get(path)
            if d is not None:
                table.add_row(
                    f"[italic dim]{label}: req/s vs minimal endpoint / vs no-op; p99 vs no-op[/italic dim]",
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{d[0] / raw[0]:.2f}x / {d[0] / noop[0]:.2f}x; {d[2] / noop[2]:.2f}x",
                    "(no target)",
                    "",
                )
    console.print(table)
    console.print(f"  the client used {client_cpu:.0%} of one core while driving the server")


# -- main -----------------------------------------------------------------------------------------------------


def summary() -> None:
    summary_table(console, _missing())


def _missing() -> str:
    absent = sum(1 for t in TARGETS if t.met is None)
    return f"; {absent} not measured" if absent else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run: fewer sizes and samples (~1 minute)")
    parser.add_argument("--requests", type=int, default=256, help="distinct requests per estate (default 256)")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP keep-alive connections (default 8)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP section")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    if quick:
        plan = {"small": [36, 10_000], "large": [36]}
        rounds, seconds = 20_000, 8.0
        http_size, http_rounds, http_per_round, round_seconds = "small", 2, 2_000, 1.0
    else:
        plan = {"small": [36, 1_000, 10_000], "large": [36, 1_000, 10_000]}
        rounds, seconds = 60_000, 60.0
        http_size, http_rounds, http_per_round, round_seconds = "large", 5, 5_000, 2.5
    started = time.perf_counter()
    console.print(
        f"[bold]Remit PDP benchmark[/bold] ({'quick' if quick else 'full'} run) · Python {sys.version.split()[0]} · "
        f"cedarpy {metadata.version('cedarpy')} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="remit-bench-") as tmp:
        containers: dict[str, tuple[Remit, dict[int, Config], dict[int, int]]] = {}
        configs: list[Config] = []
        for name, counts in plan.items():
            size = est.SIZES[name]
            console.print(f"[bold]Estate {name}[/bold]: {size.entities:,} entities")
            containers[name] = prepare(size, counts, Path(tmp) / name, args.requests, 64 if quick else 200)
            configs.extend(containers[name][1].values())
        console.print(f"Measuring in process (interleaved, up to {seconds:.0f} s) ...")
        done = measure_in_process(configs, rounds=rounds, seconds=seconds)
        console.print(f"  {done:,} rounds")
        in_process_tables(configs)
        cold_table(configs)

        if not args.no_http:
            remit, http_configs, versions = containers[http_size]
            config = http_configs[est.BASE_POLICIES]
            remit.policies.activate(est.ADMIN, versions[est.BASE_POLICIES], reason="benchmark: HTTP section")
            _token, secret = remit.admin_tokens.create(est.ADMIN, name="bench-pep", role=AdminRole.PEP)
            console.print("Measuring over HTTP (rounds interleaved) ...")
            check_token = Samples()
            for _ in range(200 if quick else 500):
                t0 = time.perf_counter_ns()
                remit.admin_tokens.authenticate(secret)
                check_token.add(time.perf_counter_ns() - t0)
            console.print(
                f"  checking the bearer token in process (AdminTokenService.authenticate): "
                f"median {check_token.median_us:,.0f} µs, p99 {check_token.p99_us:,.0f} µs; "
                f"a decision in process here: median {config.remit.median_us:,.0f} µs"
            )
            measure_http(
                config,
                Path(tmp) / http_size,
                secret,
                rounds=http_rounds,
                per_round=http_per_round,
                round_seconds=round_seconds,
                checks=64 if quick else len(config.requests),
                concurrency=args.concurrency,
            )
        for remit, _c, _v in containers.values():
            remit.close()
    summary()
    console.print(f"[dim]{time.perf_counter() - started:.0f} s in all; load average now {os.getloadavg()[0]:.1f}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
