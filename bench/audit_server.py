"""The HTTP side of ``bench/audit.py``: Remit's app on one uvicorn worker, with the audit log on or off.

Run by ``bench/audit.py`` as a subprocess (``python bench/audit_server.py --home DIR --record sync``); it binds
127.0.0.1 on an ephemeral port, prints ``PORT <n>`` on stdout once it is ready to serve, serves until terminated,
then prints ``STATS <records committed> <batches>``. The app is ``create_app(settings, remit=...)`` exactly as
``remit serve`` builds it; only the container differs:

* ``--record sync``: as configured by default: every decision is group-committed to the hash-chained log by the
  server's audit writer process before the AuthZEN endpoint answers;
* ``--record async``: the audit log in async mode (a record is appended to the spool file before the answer; the
  commit follows); the spool is ``<home>/audit-bench-async.spool``, so that it is this server's alone;
* ``--record off``: the same container with no decision recorder: the AuthZEN endpoint decides exactly as
  above and records nothing (what ``AuthZen`` does when it is given no recorder);
* ``--record tick`` (a diagnostic): ``off``, plus a thread that wakes every ``audit.batch_ms`` and goes straight
  back to sleep, doing nothing: what a second Python thread costs the event loop's thread before it does any
  work (the GIL changes hands at each wake-up).

Several of these servers may share one home (one SQLite file): each has its own audit writer, and SQLite
serialises their appends to the one chain.
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from common import serve_announcing_port

from remit.api.app import create_app
from remit.container import Remit
from remit.settings import load_settings


def build_app(home: Path, record: str) -> Any:
    if record == "async":
        settings = load_settings(home=home, audit={"mode": "async", "spool_file": home / "audit-bench-async.spool"})
    else:
        settings = load_settings(home=home)
    remit = Remit.from_settings(settings)
    if record in ("off", "tick"):
        remit = dataclasses.replace(remit, decision_recorder=None)  # type: ignore[arg-type] # AuthZen takes None
    app = create_app(settings, remit=remit)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[None]:
        ticker = None
        if record == "tick":
            ticker = threading.Thread(target=_tick, args=(settings.audit.batch_ms / 1000,), daemon=True)
            ticker.start()
        async with inner(app_):
            yield
        # the app's own shutdown has stopped the log: everything recorded is committed
        stats = remit.audit_log.stats
        print(f"STATS {stats.committed} {stats.batches}", flush=True)

    app.router.lifespan_context = lifespan
    return app


def _tick(seconds: float) -> None:
    """A thread that only wakes up every ``seconds`` and goes back to sleep: the least a writer thread costs."""
    while True:
        time.sleep(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--record", choices=("sync", "async", "off", "tick"), required=True)
    args = parser.parse_args()
    app = build_app(args.home, args.record)
    serve_announcing_port(app)


if __name__ == "__main__":
    main()
