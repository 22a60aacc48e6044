"""The audit log benchmark: decisions with durable hash-chained logging against the same decisions unlogged, and
the log's own capacity against a raw hash-chained insert loop, on SQLite and PostgreSQL, in one run.

    .venv/bin/python bench/audit.py                 # the full run (~8 minutes on two cores)
    .venv/bin/python bench/audit.py --quick         # a short run (~1.5 minutes)
    .venv/bin/python bench/audit.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

On the small agent estate of ``bench/estate.py`` (~280 entities, 36 policies, 256 distinct requests) it measures

1. decisions per second with every decision durably in the hash-chained log before it is released (``sync``
   mode, the default: the caller waits for its batch's commit) against the same decisions with logging off, and
   ``async`` mode (spooled, committed after) for information:

   a. in process: threads calling ``remit.authorizer().check(...)`` against ``Authorizer(remit.pdp).check(...)``
      with no recorder (the same ``remit.pdp.evaluate`` call, nothing recorded), at a few thread counts;
   b. over HTTP: the AuthZEN endpoint ``POST /access/v1/evaluation`` of servers started from the same home
      (``bench/audit_server.py``: log on, async, off, and a diagnostic: off plus an idle thread that wakes every
      ``batch_ms``; one uvicorn worker each, driven one at a time by ``bench/http_load.py``), at a few connection
      counts, with each server's CPU per request; afterwards every decision answered with the log on is counted
      in the log and the whole chain is verified;

2. the log's own capacity, records per second through ``AuditLog`` (producer threads calling ``record``, the
   writer group-committing) against the raw loop of ``bench/audit_capacity.py`` (plain ``sqlite3`` /
   ``psycopg`` ``executemany`` of the same canonical JSON rows with the same SHA-256 chain, 1,000 a batch), on
   SQLite (WAL, ``synchronous=FULL``) and, with ``--postgres URL`` (or ``REMIT_BENCH_POSTGRES``), on PostgreSQL
   in two scratch databases created on that server and dropped afterwards. The records are real decision records
   (``decision_record`` on the estate's requests, with the request id and tool arguments a gateway would add).
   For reading it: the same raw loop into a table with no index (what this disk and SQLite manage for these
   bytes at ``synchronous=FULL``, the floor under any log that keeps them), the raw loop's time in the database,
   and one record's Python work per step of the append path.

Variants are interleaved round by round in shuffled order, so that noise on a shared machine hits them alike; each
figure is the median of the rounds. It prints one table per section, then which targets were met; it always
exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import audit_capacity as cap
import estate as est
import http_load
import httpx
from common import cpu_seconds, percentile, summary_table, target
from rich.console import Console
from rich.table import Table

from remit.admin.access import AdminRole
from remit.audit.chain import GENESIS, link
from remit.audit.decisions import decision_record
from remit.audit.mask import Masker
from remit.audit.record import canonical, index_columns, with_seq
from remit.container import Remit
from remit.policy.authorizer import Authorizer
from remit.policy.refresh import settle_heap
from remit.settings import load_settings
from remit.store.audit import AuditStore

HERE = Path(__file__).resolve().parent
AUTHZEN_PATH = "/access/v1/evaluation"
OFF, SYNC, ASYNC = "logging off", "durable log (sync)", "spooled log (async)"
TICK = "diagnostic: off + an idle thread waking every 2 ms"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


# -- targets --------------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


# -- the estate -----------------------------------------------------------------------------------------------


@dataclass
class Setup:
    home: Path
    remit: Remit  #: the home's container (sync mode, as configured by default)
    requests: list[est.BenchRequest]
    estate: est.Estate
    token: str  #: a PEP's bearer token


def prepare(home: Path, n_requests: int) -> Setup:
    remit = Remit.from_settings(load_settings(home=home))
    estate = est.build(remit, est.SIZES["small"])
    remit.policies.apply(est.ADMIN, est.policies(estate, est.BASE_POLICIES), comment="bench: audit")
    remit.refresher.refresh(force=True)
    _t, secret = remit.admin_tokens.create(est.ADMIN, name="bench-pep", role=AdminRole.PEP)
    return Setup(home, remit, est.requests(estate, n_requests), estate, secret)


# -- 1a. in process ---------------------------------------------------------------------------------------------


Check = Callable[[est.BenchRequest], Any]


@dataclass
class Variant:
    name: str
    check: Check
    rates: dict[int, list[float]] = field(default_factory=dict)  #: per thread count, one per round
    latencies: dict[int, list[int]] = field(default_factory=dict)  #: per thread count, ns, all rounds


def authorizer_check(authz: Authorizer) -> Check:
    def check(r: est.BenchRequest) -> Any:
        q = r.engine
        return authz.check(q.principal, q.action, q.resource, q.context)

    return check


def run_threads(
    check: Check, requests: Sequence[est.BenchRequest], threads: int, per_thread: int, seconds: float
) -> tuple[float, list[int]]:
    """``threads`` threads each deciding ``per_thread`` requests (or until ``seconds``): decisions per second and
    the latency of every call."""
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[int]] = [[] for _ in range(threads)]
    done = [0] * threads
    failed: list[BaseException] = []
    deadline = [0.0]

    def work(k: int) -> None:
        mine = latencies[k]
        clock = time.perf_counter_ns
        n = len(requests)
        barrier.wait()
        try:
            for i in range(per_thread):
                request = requests[(k * 37 + i) % n]
                t0 = clock()
                check(request)
                mine.append(clock() - t0)
                if i % 32 == 31 and time.perf_counter() > deadline[0]:
                    break
        except BaseException as exc:  # reported below
            failed.append(exc)
        done[k] = len(mine)

    pool = [threading.Thread(target=work, args=(k,), name=f"bench-decider-{k}") for k in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    barrier.wait()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if failed:
        raise RuntimeError(f"a deciding thread failed: {failed[0]!r}")
    return sum(done) / elapsed, [ns for chunk in latencies for ns in chunk]


def measure_in_process(
    variants: list[Variant],
    requests: Sequence[est.BenchRequest],
    thread_counts: Sequence[int],
    *,
    rounds: int,
    decisions: int,
    seconds: float,
) -> None:
    rng = random.Random(5)
    for v in variants:  # warm up: slices, connections, the writer
        run_threads(v.check, requests, 4, 64, 2.0)
    # what a long-running embedder does after a compile, and a server always does (remit.policy.refresh.settle_heap):
    # the estate out of the collector's way, for every variant alike
    settle_heap()
    try:
        _rounds(variants, requests, thread_counts, rng, rounds=rounds, decisions=decisions, seconds=seconds)
    finally:
        gc.unfreeze()


def _rounds(
    variants: list[Variant],
    requests: Sequence[est.BenchRequest],
    thread_counts: Sequence[int],
    rng: random.Random,
    *,
    rounds: int,
    decisions: int,
    seconds: float,
) -> None:
    for _ in range(rounds):
        for threads in thread_counts:
            order = list(variants)
            rng.shuffle(order)
            for v in order:
                rate, lat = run_threads(v.check, requests, threads, max(1, decisions // threads), seconds)
                v.rates.setdefault(threads, []).append(rate)
                v.latencies.setdefault(threads, []).extend(lat)


def in_process_table(variants: list[Variant], thread_counts: Sequence[int], rounds: int) -> None:
    table = Table(
        title="1a. Decisions in process: Authorizer.check with the audit log against the same with no recorder",
        caption=f"decisions/s: median of {rounds} rounds; latency of one check: all calls of all rounds",
    )
    for col in ("variant", "threads", "decisions/s", "p50 µs", "p99 µs", "ratio vs off", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "target") else "right")
    by_name = {v.name: v for v in variants}
    top = max(thread_counts)
    for threads in thread_counts:
        base = median(by_name[OFF].rates[threads])
        for v in variants:
            rate = median(v.rates[threads])
            lat = sorted(v.latencies[threads])
            cells = ["baseline", "", ""]
            if v.name != OFF:
                ratio = rate / base if base else 0.0
                if v.name == SYNC and threads == top:
                    t = target(
                        f"in process, {threads} threads: decisions/s, durable log vs off", ratio, 0.90, at_least=True
                    )
                    cells = [f"{ratio:.2f}x", t.wanted, t.verdict]
                else:
                    cells = [f"{ratio:.2f}x", "(information)", ""]
            table.add_row(
                v.name,
                str(threads),
                f"{rate:,.0f}",
                f"{percentile(lat, 0.5) / 1000:,.0f}",
                f"{percentile(lat, 0.99) / 1000:,.0f}",
                *cells,
                end_section=v is variants[-1],
            )
    console.print(table)


# -- 1b. over HTTP ---------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    record: str  #: audit_server.py --record
    proc: subprocess.Popen[str] | None = None
    port: int = 0
    answered: int = 0  #: 200 answers, warm-up and checks included (each one a decision the log must hold)
    rates: dict[int, list[float]] = field(default_factory=dict)
    latencies: dict[int, list[int]] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    writer_cpu: dict[int, float] = field(default_factory=dict)  #: the server's child processes (its audit writer)
    requests: dict[int, int] = field(default_factory=dict)
    bad: dict[int, int] = field(default_factory=dict)
    committed: int = 0  #: the server's audit writer, over the whole run (printed by the server as it stops)
    batches: int = 0


def start_server(server: Server, home: Path) -> None:
    env = dict(os.environ)
    env.pop("REMIT_CONFIG", None)
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(HERE / "audit_server.py"), "--home", str(home), "--record", server.record],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("PORT "):
            server.proc, server.port = proc, int(line.split()[1])
            return
    proc.kill()
    raise RuntimeError(f"the {server.name} server did not start (see its output above)")


def stop_server(server: Server) -> None:
    if server.proc is None:
        return
    server.proc.terminate()  # uvicorn shuts down gracefully: the log commits what it holds and stops
    try:
        out, _ = server.proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        return
    for line in out.splitlines():
        if line.startswith("STATS "):
            server.committed, server.batches = (int(x) for x in line.split()[1:3])


def check_servers(servers: list[Server], setup: Setup, bodies: list[bytes], n: int) -> None:
    headers = {"Authorization": f"Bearer {setup.token}", "Content-Type": "application/json"}
    for s in servers:
        agree = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{s.port}", headers=headers, timeout=30) as client:
            for request, body in list(zip(setup.requests, bodies, strict=True))[:n]:
                answer = client.post(AUTHZEN_PATH, content=body)
                s.answered += answer.status_code == 200
                expected = setup.remit.pdp.evaluate(request.engine).allowed
                agree += answer.status_code == 200 and answer.json().get("decision") == expected
        console.print(f"  {s.name}: 127.0.0.1:{s.port}; AuthZEN agrees with Remit in process on {agree}/{n}")


def children_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s live children (a server's audit writer process)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return 0.0
    total = 0.0
    for kid in kids:
        try:
            total += cpu_seconds(kid)
        except OSError:
            pass  # gone meanwhile
    return total


def measure_http(
    servers: list[Server],
    payloads: list[bytes],
    connections: Sequence[int],
    *,
    rounds: int,
    per_round: int,
    round_seconds: float,
) -> float:
    """Rounds of every (connections, server) in shuffled order; returns the client's share of a core."""
    rng = random.Random(3)
    client_cpu = client_wall = 0.0

    async def drive() -> None:
        nonlocal client_cpu, client_wall
        for s in servers:  # warm up: connections, caches, the writer, the thread pool
            r = await http_load.run(
                "127.0.0.1", s.port, payloads, total=per_round // 4, concurrency=max(connections), max_seconds=1.0
            )
            s.answered += r.statuses.get(200, 0)
        for _ in range(rounds):
            for conns in connections:
                order = list(servers)
                rng.shuffle(order)
                for s in order:
                    assert s.proc is not None
                    cpu0, kids0 = cpu_seconds(s.proc.pid), children_cpu(s.proc.pid)
                    r = await http_load.run(
                        "127.0.0.1", s.port, payloads, total=per_round, concurrency=conns, max_seconds=round_seconds
                    )
                    s.cpu[conns] = s.cpu.get(conns, 0.0) + cpu_seconds(s.proc.pid) - cpu0
                    s.writer_cpu[conns] = s.writer_cpu.get(conns, 0.0) + children_cpu(s.proc.pid) - kids0
                    s.rates.setdefault(conns, []).append(r.per_second)
                    s.latencies.setdefault(conns, []).extend(r.latencies_ns)
                    s.requests[conns] = s.requests.get(conns, 0) + r.requests
                    s.bad[conns] = s.bad.get(conns, 0) + sum(v for k, v in r.statuses.items() if k != 200)
                    s.answered += r.statuses.get(200, 0)
                    client_cpu += r.client_cpu_seconds
                    client_wall += r.seconds

    asyncio.run(drive())
    return client_cpu / client_wall if client_wall else 0.0


def http_table(servers: list[Server], connections: Sequence[int], rounds: int) -> None:
    table = Table(
        title="1b. Over HTTP: the AuthZEN endpoint, one uvicorn worker per server, the audit log on, async and off",
        caption=(
            f"req/s: median of {rounds} rounds; latency: all requests of all rounds; "
            "server CPU: the server process per request; writer CPU: its audit writer process per request"
        ),
    )
    columns = ("server", "connections", "req/s", "p50 µs", "p99 µs", "CPU µs/req", "writer CPU", "non-200", "ratio")
    for col in (*columns, "target", ""):
        table.add_column(col, justify="left" if col in ("server", "target") else "right")
    by_name = {s.name: s for s in servers}
    top = max(connections)
    for conns in connections:
        base = median(by_name[OFF].rates[conns])
        for s in servers:
            rate = median(s.rates[conns])
            lat = sorted(s.latencies[conns])
            cpu = s.cpu[conns] / s.requests[conns] * 1e6 if s.requests.get(conns) else 0.0
            writer = s.writer_cpu.get(conns, 0.0) / s.requests[conns] * 1e6 if s.requests.get(conns) else 0.0
            cells = ["baseline", "", ""]
            if s.name != OFF:
                ratio = rate / base if base else 0.0
                if s.name == SYNC and conns == top:
                    t = target(f"over HTTP, {conns} connections: req/s, durable log vs off", ratio, 0.90, at_least=True)
                    cells = [f"{ratio:.2f}x", t.wanted, t.verdict]
                else:
                    cells = [f"{ratio:.2f}x", "(information)", ""]
            table.add_row(
                s.name,
                str(conns),
                f"{rate:,.0f}",
                f"{percentile(lat, 0.5) / 1000:,.0f}",
                f"{percentile(lat, 0.99) / 1000:,.0f}",
                f"{cpu:,.0f}",
                f"{writer:,.0f}" if writer else "",
                str(s.bad.get(conns, 0)),
                *cells,
                end_section=s is servers[-1],
            )
    console.print(table)
    for s in servers:
        if s.batches:
            console.print(
                f"  {s.name}: {s.committed:,} records in {s.batches:,} group commits over the run "
                f"({s.committed / s.batches:.1f} a batch)"
            )


def check_log(setup: Setup, before: int, servers: list[Server], extra: int) -> None:
    """Every decision answered by a logging server (or decided in process with the log) is in the chain."""
    store = AuditStore(setup.remit.engine)
    after = store.count()
    expected = extra + sum(s.answered for s in servers if s.record in ("sync", "async"))
    t0 = time.perf_counter()
    report = setup.remit.audit.verify(None)
    took = time.perf_counter() - t0
    colour = "green" if after - before == expected and report.ok else "red"
    console.print(
        f"  [{colour}]the log holds {after - before:,} new records for {expected:,} decisions answered with the log "
        f"on; chain verified: {'ok' if report.ok else report.problem} ({report.records:,} records, "
        f"{report.checkpoints:,} signed checkpoints, {took:.1f} s)[/{colour}]"
    )


# -- 2. capacity ------------------------------------------------------------------------------------------------


def capacity_templates(setup: Setup) -> list[dict[str, Any]]:
    """Decision records of the estate's requests, as a gateway records them (request id, tool arguments)."""
    rng = random.Random(17)
    state = setup.remit.pdp.state
    out: list[dict[str, Any]] = []
    for r in setup.requests:
        q = r.engine
        decision = setup.remit.pdp.evaluate(q)
        context: dict[str, Any] = {
            **q.context,
            "request_id": f"req_{rng.getrandbits(96):024x}",
            "client": "langchain-mcp-adapters/0.1.9",
        }
        if q.action == "call_tool":
            context["arguments"] = {
                "ticket_id": f"T-{rng.randint(10_000, 99_999)}",
                "query": rng.choice(("status of my last refund", "open incidents this week", "customer tier")),
                "limit": rng.choice((10, 25, 50)),
            }
        out.append(
            decision_record(
                dataclasses.replace(q, context=context),
                decision,
                at=datetime.now(UTC),
                source="gateway",
                actor="token:tok_bench_gateway01",
                state=state,
            )
        )
    return out


@dataclass
class CapacityVariant:
    name: str
    database: str
    step: cap.Step
    baseline: CapacityVariant | None = None  #: the raw loop this one is judged against
    raw: cap.RawSqlite | cap.RawPostgres | None = None  #: a raw loop: its time in the database
    rates: list[float] = field(default_factory=list)  #: records/s, one per round
    records: int = 0
    batches: int = 0

    @property
    def median(self) -> float:
        return median(self.rates)


def measure_capacity(
    variants: list[CapacityVariant], templates: list[dict[str, Any]], records: int, rounds: int
) -> None:
    rng = random.Random(9)
    start = 0
    for v in variants:  # warm up
        v.step(cap.bodies_for(templates, start, 2_000))
        start += 2_000
    for _ in range(rounds):
        order = list(variants)
        rng.shuffle(order)
        for v in order:
            bodies = cap.bodies_for(templates, start, records)
            start += records
            seconds, batches = v.step(bodies)
            v.rates.append(records / seconds)
            v.records += records
            v.batches += batches


def capacity_table(variants: list[CapacityVariant], rounds: int, sizes: list[int]) -> None:
    table = Table(
        title="2. The log's capacity: records/s through AuditLog against a raw batched hash-chained insert loop",
        caption=(
            f"records/s: median of {rounds} rounds; records of {sizes[0]}-{sizes[-1]} bytes of canonical JSON "
            f"(median {sizes[len(sizes) // 2]})"
        ),
    )
    for col in ("variant", "database", "records/s", "records/batch", "ratio vs raw", "vs 100k/s", "target", ""):
        table.add_column(col, justify="left" if col in ("variant", "database", "target") else "right")
    for v in variants:
        rate = v.median
        per_batch = v.records / v.batches if v.batches else 0.0
        vs_raw = f"{rate / v.baseline.median:.2f}x" if v.baseline and v.baseline.median else "baseline"
        cells = ["", "(information)", ""]
        if v.database == SQLITE:
            ratio = rate / 100_000
            cells = [f"{ratio:.2f}x", "(information)", ""]
            if v.name == PROCESS_VARIANT:
                t = target(
                    "capacity: AuditLog records/s on SQLite (synchronous=FULL) vs 100,000/s", ratio, 1.0, at_least=True
                )
                cells = [f"{ratio:.2f}x", t.wanted, t.verdict]
        table.add_row(v.name, v.database, f"{rate:,.0f}", f"{per_batch:,.0f}", vs_raw, *cells)
    console.print(table)


def costs_table(templates: list[dict[str, Any]], masker: Masker, n: int = 20_000) -> None:
    """What one record costs in each step of the append path, single-threaded, in a quiet loop (no target)."""
    bodies = cap.bodies_for(templates, 0, len(templates))
    masked = [masker.mask(b) for b in bodies]
    full = [with_seq(b, 1_000_000 + i) for i, b in enumerate(masked)]
    texts = [canonical(f) for f in full]
    steps: list[tuple[str, Callable[[int], Any]]] = [
        ("Masker.mask (AuditLog.record)", lambda i: masker.mask(bodies[i])),
        ("with_seq + canonical JSON (sorted keys)", lambda i: canonical(with_seq(masked[i], i))),
        ("SHA-256 link", lambda i: link(GENESIS, texts[i])),
        ("index columns", lambda i: index_columns(full[i])),
    ]
    table = Table(title="2b. One record's Python work on the append path, single-threaded (no target)")
    for col in ("step", "µs a record"):
        table.add_column(col, justify="left" if col == "step" else "right")
    size = len(bodies)
    for name, fn in steps:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(n):
                fn(i % size)
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        table.add_row(name, f"{best:.1f}")
    console.print(table)


SQLITE = "SQLite (WAL, synchronous=FULL)"
SCRATCH = ("remit_bench_audit", "remit_bench_audit_raw")


def run_capacity(setup: Setup, tmp: Path, postgres: str | None, *, records: int, rounds: int, producers: int) -> None:
    templates = capacity_templates(setup)
    sizes = sorted(len(canonical(with_seq(t, 1_000_000))) for t in templates)
    with ExitStack() as stack:

        def container(home: Path, **overrides: Any) -> Remit:
            remit = Remit.from_settings(load_settings(home=home, **overrides))
            stack.callback(remit.close)
            return remit

        def through(remit: Remit, *, process: bool = False) -> cap.Step:
            remit.audit_log.start(process=process)
            pending = remit.settings.audit.max_pending
            return lambda bodies: cap.through_log(remit.audit_log, bodies, producers, pending)

        raw_sqlite = cap.RawSqlite(tmp / "raw.db")
        stack.callback(raw_sqlite.close)
        raw = CapacityVariant("raw loop", SQLITE, raw_sqlite.append, raw=raw_sqlite)
        bare_sqlite = cap.RawSqlite(tmp / "bare.db", indexes=False)
        stack.callback(bare_sqlite.close)
        bare = CapacityVariant(FLOOR_VARIANT, SQLITE, bare_sqlite.append, raw, raw=bare_sqlite)
        scattered_sqlite = cap.RawSqlite(tmp / "scattered.db")
        stack.callback(scattered_sqlite.close)
        scattered = CapacityVariant(
            RANDOM_IDS_VARIANT,
            SQLITE,
            lambda bodies: scattered_sqlite.append(cap.with_random_ids(bodies)),  # timed inside append
            raw,
            raw=scattered_sqlite,
        )
        log = container(tmp / "log")
        child = container(tmp / "log-process")
        spooled = container(tmp / "log-async", audit={"mode": "async", "spool_file": tmp / "log-async.spool"})
        variants = [
            CapacityVariant(PROCESS_VARIANT, SQLITE, through(child, process=True), raw),
            CapacityVariant("AuditLog (sync, writer thread)", SQLITE, through(log), raw),
            raw,
            bare,
            scattered,
            CapacityVariant("AuditLog (async: spooled first)", SQLITE, through(spooled), raw),
        ]
        where = "SQLite only: no --postgres URL"
        if postgres:
            log_url, raw_url = stack.enter_context(cap.scratch_databases(postgres, SCRATCH))
            raw_postgres = cap.RawPostgres(raw_url)
            stack.callback(raw_postgres.close)
            raw_pg = CapacityVariant("raw loop", "PostgreSQL", raw_postgres.append, raw=raw_postgres)
            pg = container(tmp / "log-pg", database_url=log_url)
            variants += [CapacityVariant(PROCESS_VARIANT, "PostgreSQL", through(pg, process=True), raw_pg), raw_pg]
            where = f"SQLite, and PostgreSQL in scratch databases {' and '.join(SCRATCH)}"
        console.print(
            f"Measuring capacity ({rounds} rounds of {records:,} records per variant; {producers} producer threads "
            f"into AuditLog; {where}) ..."
        )
        started = {id(v): v.raw.database_seconds for v in variants if v.raw is not None}
        measure_capacity(variants, templates, records, rounds)
        capacity_table(variants, rounds, sizes)
        for v in variants:
            if v.raw is not None and v.records:
                db = (v.raw.database_seconds - started[id(v)]) / v.records * 1e6
                total = 1e6 / v.median
                console.print(
                    f"  {v.name}, {v.database}: {total:.1f} µs a record, of which {db:.1f} µs in executemany and "
                    f"commit, the rest building the rows (canonical JSON, SHA-256, index columns)"
                )
        costs_table(templates, log.audit_log.masker)
        for remit, variant in ((child, variants[0]), (log, variants[1])):
            remit.audit_log.stop()
            t0 = time.perf_counter()
            report = remit.audit.verify(None)
            took = time.perf_counter() - t0
            colour = "green" if report.ok and report.records == variant.records + 2_000 else "red"
            console.print(
                f"  [{colour}]the SQLite chain of {variant.name} verified: {'ok' if report.ok else report.problem} "
                f"({report.records:,} records, {report.checkpoints:,} signed checkpoints, {took:.1f} s)[/{colour}]"
            )


# -- main ---------------------------------------------------------------------------------------------------------


#: the capacity variant as a server runs it (the writer process builds, masks, chains and commits)
PROCESS_VARIANT = "AuditLog (sync, writer process)"
#: the raw loop into a table with no index: the least this disk and SQLite do for these bytes with synchronous=FULL
FLOOR_VARIANT = "raw loop, table without indexes (floor)"
#: the raw loop with ids that are random throughout, as ids were before they began with the time
RANDOM_IDS_VARIANT = "raw loop, random ids (as before)"


def summary() -> None:
    summary_table(console)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run: fewer rounds and records (~1.5 minutes)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("REMIT_BENCH_POSTGRES"),
        metavar="URL",
        help="a PostgreSQL server (postgresql+psycopg://...) on which to create, use and drop two scratch databases",
    )
    parser.add_argument("--threads", default="8,64", help="in-process thread counts (default 8,64)")
    parser.add_argument(
        "--connections",
        default="8,64,256",
        help="HTTP keep-alive connections (default 8,64,256; the target at the last)",
    )
    parser.add_argument("--producers", type=int, default=4, help="threads calling AuditLog.record (default 4)")
    parser.add_argument("--skip", default="", help="sections to skip: any of inprocess,http,capacity")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    thread_counts = [int(x) for x in args.threads.split(",")]
    connections = [int(x) for x in args.connections.split(",")]
    rounds = 3 if quick else 7
    decisions, seconds = (3_000, 3.0) if quick else (8_000, 6.0)
    http_per_round, http_seconds = (3_000, 1.5) if quick else (8_000, 3.0)
    cap_records, cap_rounds = (20_000, 3) if quick else (60_000, 5)
    started = time.perf_counter()
    console.print(
        f"[bold]Remit audit log benchmark[/bold] ({'quick' if quick else 'full'} run) · Python "
        f"{sys.version.split()[0]} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="remit-bench-audit-") as tmp_name:
        tmp = Path(tmp_name)
        setup = prepare(tmp / "estate", 256)
        console.print(
            f"Estate: {est.SIZES['small'].entities} entities, {est.BASE_POLICIES} policies, {len(setup.requests)} "
            f"requests; audit log: batch {setup.remit.settings.audit.batch_ms} ms, checkpoint every "
            f"{setup.remit.settings.audit.checkpoint_every:,} records"
        )
        store = AuditStore(setup.remit.engine)
        before = store.count()
        in_process = 0
        if "inprocess" not in skip:
            async_remit = Remit.from_settings(
                load_settings(
                    home=tmp / "estate", audit={"mode": "async", "spool_file": tmp / "in-process-async.spool"}
                )
            )
            try:
                variants = [
                    Variant(OFF, authorizer_check(Authorizer(setup.remit.pdp))),
                    Variant(SYNC, authorizer_check(setup.remit.authorizer())),
                    Variant(ASYNC, authorizer_check(async_remit.authorizer())),
                ]
                console.print(
                    f"Measuring in process ({rounds} rounds, {', '.join(map(str, thread_counts))} threads) ..."
                )
                measure_in_process(
                    variants, setup.requests, thread_counts, rounds=rounds, decisions=decisions, seconds=seconds
                )
            finally:
                async_remit.close()
            setup.remit.audit_log.flush()
            in_process = store.count() - before
            in_process_table(variants, thread_counts, rounds)
            stats = setup.remit.audit_log.stats
            console.print(
                f"  durable log: {stats.committed:,} records in {stats.batches:,} group commits "
                f"({stats.committed / max(1, stats.batches):.1f} a batch)"
            )
        if "http" not in skip:
            servers = [Server(OFF, "off"), Server(SYNC, "sync"), Server(ASYNC, "async"), Server(TICK, "tick")]
            bodies = [json.dumps(r.authzen, separators=(",", ":")).encode() for r in setup.requests]
            payloads = http_load.encode(AUTHZEN_PATH, bodies, {"Authorization": f"Bearer {setup.token}"})
            console.print(f"Measuring over HTTP ({rounds} rounds, {', '.join(map(str, connections))} connections) ...")
            try:
                for s in servers:
                    start_server(s, setup.home)
                check_servers(servers, setup, bodies, 32 if quick else 128)
                share = measure_http(
                    servers, payloads, connections, rounds=rounds, per_round=http_per_round, round_seconds=http_seconds
                )
            finally:
                for s in servers:
                    stop_server(s)
            http_table(servers, connections, rounds)
            console.print(f"  the load generator used {share:.0%} of one core while driving the servers")
            check_log(setup, before, servers, in_process)
        if "capacity" not in skip:
            run_capacity(setup, tmp, args.postgres, records=cap_records, rounds=cap_rounds, producers=args.producers)
        setup.remit.close()
    summary()
    console.print(f"[dim]{time.perf_counter() - started:.0f} s in all; load average now {os.getloadavg()[0]:.1f}[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
