"""The audit masker's cost per record, on the decision records of the audit benchmark's estate.

    .venv/bin/python bench/masking.py          # ~30 seconds

Masking runs once on every record before it is written: in the audit writer process (a server's default), or on
the deciding thread (``audit.writer = "inline"``, async mode). This measures ``Masker.mask`` on the records
``bench/audit.py`` measures capacity with (decision records of the small estate as a gateway records them:
request id, client, tool arguments):

* the 256 records repeated, so that every string in them has been seen before (the masker remembers clean
  strings: the vocabulary of types, names and tools that records repeat);
* the same records with fresh values where real traffic has them (request id, time, source address, ticket id),
  so that four strings of each record are new;
* those with one credential inside a tool argument, nested;
* admin change records (an agent before and after, with a reason).

CPU time of this process (steadier than wall time on a shared machine), best of 21 rounds; no target, for
information.
"""

from __future__ import annotations

import copy
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import audit as bench_audit
from remit.audit.mask import Masker

console = Console()
#: an AWS access key id in AWS's documentation format: not a live key
SECRET = "AKIA" + "IOSFODNN7EXAMPLE"
ROUNDS = 21

Records = list[dict[str, Any]]


def fresh(templates: Records, n: int, rng: random.Random) -> Records:
    """``n`` records from ``templates`` with the values real traffic never repeats made new."""
    out = []
    for i in range(n):
        body = copy.deepcopy(templates[i % len(templates)])
        context = body["context"]
        context["request_id"] = f"req_{rng.getrandbits(96):024x}"
        context["time"] = f"2026-01-05T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        context["source_ip"] = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        if "arguments" in context:
            context["arguments"]["ticket_id"] = f"T-{rng.randint(10_000, 99_999)}"
        out.append(body)
    return out


def with_secret(records: Records) -> Records:
    out = copy.deepcopy(records)
    for body in out:
        body.setdefault("context", {}).setdefault("arguments", {})["headers"] = {"x-note": f"key {SECRET} here"}
    return out


def change_records(n: int) -> Records:
    out = []
    for i in range(n):
        agent = {
            "name": f"support-bot-{i}",
            "owner": "alice",
            "purpose": "summarises support tickets for the weekly report",
            "status": "active",
            "status_reason": "registered",
            "team": "support",
            "environment": "production",
            "attributes": {"framework": "langchain", "model": "gpt-4o"},
        }
        out.append(
            {
                "schema": "remit.audit/v1",
                "id": f"evt_{i:024d}",
                "at": "2026-11-28T18:00:00.123456Z",
                "kind": "change",
                "action": "agent.suspend",
                "source": "admin",
                "actor": "token:tok_admin01",
                "target": {"type": "agent", "id": agent["name"]},
                "before": agent,
                "after": {**agent, "status": "suspended", "status_reason": f"investigating ticket T-{4000 + i}"},
                "reason": f"investigating ticket T-{4000 + i}",
            }
        )
    return out


def cpu_us(masker: Masker, make: Any) -> float:
    """Best CPU µs a record over ``ROUNDS`` rounds, each on a fresh list from ``make()``."""
    best = float("inf")
    for _ in range(ROUNDS):
        records = make()
        t0 = time.process_time()
        for body in records:
            masker.mask(body)
        best = min(best, (time.process_time() - t0) / len(records) * 1e6)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="remit-bench-masking-") as tmp:
        setup = bench_audit.prepare(Path(tmp) / "estate", 256)
        try:
            templates = bench_audit.capacity_templates(setup)
        finally:
            setup.remit.close()
    rng = random.Random(5)
    masker = Masker()
    table = Table(title="Masker.mask, CPU µs a record, single-threaded (no target)")
    for col in ("records", "µs a record"):
        table.add_column(col, justify="left" if col == "records" else "right")
    cases = (
        ("decision records, every string seen before", lambda: templates * 8),
        ("decision records, four new strings each", lambda: fresh(templates, 2048, rng)),
        ("the same, a credential in a nested argument", lambda: with_secret(fresh(templates, 2048, rng))),
        ("admin change records (an agent before and after)", lambda: change_records(2048)),
    )
    for name, make in cases:
        table.add_row(name, f"{cpu_us(masker, make):.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
