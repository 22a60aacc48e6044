"""Prometheus metrics: decisions, decision and request latency, the audit log, tokens; the only module that
imports ``prometheus_client``.

Each ``Metrics`` owns its registry, so several apps in one process (tests) never share series. Three kinds of
source feed it:

* **decisions**, from the engine's sink (``observe_decision``), on the hot path: appended to a list, folded
  into counters now and then, and turned into metric families at scrape time (see ``_DecisionCounts``);
* **requests**, on the hot path too: appended to a list and folded into their histogram now and then, a bucket
  count at a time, and before every scrape (see ``_RequestTimes``);
* **audit commits**, observed as they end (``observe_audit_commit``);
* **state** read at scrape time: audit queue depth and counters (``AuditStats``), the active policy version.

The ``source`` label of a decision is ``remit.obs.decisions.decision_source``: ``authzen``, ``search`` or
``in_process``.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from remit import __version__
from remit.audit.log import AuditLog
from remit.obs.decisions import decision_source
from remit.policy.engine import PolicyEngine
from remit.policy.model import AuthzRequest, Decision, DenyCode, Mode

#: engine evaluation time, in microseconds (the engine measures ``eval_us``): 20 µs to 50 ms
DECISION_BUCKETS_US: tuple[float, ...] = (
    20, 35, 50, 75, 100, 150, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000
)  # fmt: skip
_DECISION_BOUNDS = tuple(float(us) for us in DECISION_BUCKETS_US)  #: floats: compared with floats, faster
_DECISION_LE = tuple(repr(us / 1_000_000) for us in DECISION_BUCKETS_US)  #: "2e-05": exact, unlike us * 1e-6
#: a decision endpoint, from the request's arrival in the route to its answer (audit commit included)
REQUEST_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0
)  # fmt: skip
#: one group commit of the audit log (one transaction)
COMMIT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0
)  # fmt: skip
#: decisions wait in a list until this many are there (or a scrape comes), then are folded into the counters
#: by the decision that fills it: ~0.2 µs each, so that one pays ~13 µs once per 64 decisions
FOLD_EVERY = 64
#: the grant types the token service will count; their series exist (at zero) from the start
GRANT_TYPES = ("client_credentials", "token_exchange")
#: what became of a legacy API key presented at the token endpoint; both series exist (at zero) from the start
LEGACY_KEY_RESULTS = ("accepted", "refused")


class Metrics:
    """The process's metrics, in ``registry``; ``exposition(accept)`` renders them for a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._decisions = _DecisionCounts()
        self.registry.register(self._decisions)
        self._request_times = _RequestTimes()
        self.registry.register(self._request_times)  # before the histogram: folds what waits into it, first
        self._request_times.histogram = Histogram(
            "remit_http_request_duration_seconds",
            "Time a decision endpoint took to answer, audit commit included.",
            ("endpoint", "status"),
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self._pending_requests = self._request_times.pending
        self.tokens_issued = Counter(
            "remit_tokens_issued", "Access tokens issued, by grant type.", ("grant_type",), registry=self.registry
        )
        for grant in GRANT_TYPES:
            self.tokens_issued.labels(grant)
        self.legacy_key_uses = Counter(
            "remit_legacy_api_key_uses",
            "Legacy static API keys presented at the token endpoint, by result (accepted or refused).",
            ("result",),
            registry=self.registry,
        )
        for result in LEGACY_KEY_RESULTS:
            self.legacy_key_uses.labels(result)
        self._commits = Histogram(
            "remit_audit_commit_duration_seconds",
            "Time one group commit of the audit log took (one transaction).",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    # -- wiring ---------------------------------------------------------------------------------------------

    def watch(self, *, audit_log: AuditLog | None = None, pdp: PolicyEngine | None = None) -> None:
        """Read the audit log's queue and counters, and the engine's active policy version, at each scrape."""
        self.registry.register(_StateCollector(audit_log, pdp))

    # -- observations ---------------------------------------------------------------------------------------

    def observe_decision(self, _request: AuthzRequest, decision: Decision) -> None:
        """Count one decision (a ``DecisionSink``: the engine calls it for every decision it makes)."""
        self._decisions.add(decision, decision_source.get())

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        pending = self._pending_requests
        pending.append((endpoint, status, seconds))
        if len(pending) >= FOLD_EVERY:
            self._request_times.fold()

    def observe_audit_commit(self, _records: int, seconds: float) -> None:
        """``AuditLog(on_commit=...)``: one batch committed."""
        self._commits.observe(seconds)

    def token_issued(self, grant_type: str) -> None:
        self.tokens_issued.labels(grant_type).inc()

    def legacy_key_used(self, result: str) -> None:
        """A legacy API key was presented at the token endpoint: ``accepted`` or ``refused``."""
        self.legacy_key_uses.labels(result).inc()

    # -- exposition -----------------------------------------------------------------------------------------

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The body and content type of a scrape: OpenMetrics when ``accept`` asks for it, else Prometheus text."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


class _DecisionCounts(Collector):
    """Decisions by (result, source, mode), denials by code, and the engine-time histogram.

    The hot path only appends the decision to a list: one atomic operation, no lock. Every ``FOLD_EVERY``
    decisions, and at each scrape, the list is folded into plain counters under a lock, in one tight loop.
    Measured next to a Cedar call, counting each decision under a lock as it came cost about three times as
    much, and a pre-bound ``Counter`` plus a ``Histogram`` (a lock per call and per bucket) about six times.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Decision, str]] = []
        self._counts: dict[tuple[bool, Mode, str], int] = {}
        self._denials: dict[DenyCode, int] = {}
        self._buckets = [0] * (len(DECISION_BUCKETS_US) + 1)  #: per bucket, not cumulative; the last is +Inf
        self._sum_us = 0.0

    def add(self, decision: Decision, source: str) -> None:
        pending = self._pending
        pending.append((decision, source))
        if len(pending) >= FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        with self._lock:
            pending = self._pending
            # Appends may land while this runs: they go after what is taken here, and wait for the next fold.
            batch = pending[:]
            del pending[: len(batch)]
            counts, denials, buckets = self._counts, self._denials, self._buckets
            total = 0.0
            for decision, source in batch:
                key = (decision.allowed, decision.mode, source)
                counts[key] = counts.get(key, 0) + 1
                eval_us = decision.eval_us
                buckets[bisect_left(_DECISION_BOUNDS, eval_us)] += 1  # the first bound >= it: Prometheus's le
                total += eval_us
                code = decision.deny_code
                if code is not None:
                    denials[code] = denials.get(code, 0) + 1
            self._sum_us += total

    def collect(self) -> Iterable[Metric]:
        self._fold()
        with self._lock:
            counts = dict(self._counts)
            denials = dict(self._denials)
            buckets = list(self._buckets)
            total_us = self._sum_us
        decisions = CounterMetricFamily(
            "remit_decisions",
            "Decisions made, by what the caller was told (result), where they were asked for and the policy mode. "
            "In log_only mode a policy deny is told allow: see remit_decision_denials_total.",
            labels=("result", "source", "mode"),
        )
        for (allowed, mode, source), n in sorted(counts.items()):
            decisions.add_metric(("allow" if allowed else "deny", source, mode.value), n)
        yield decisions
        by_code = CounterMetricFamily(
            "remit_decision_denials",
            "Decisions whose outcome was deny (or would have been, in log_only mode), by reason.",
            labels=("code",),
        )
        for code, n in sorted(denials.items()):
            by_code.add_metric((code.value,), n)
        yield by_code
        yield HistogramMetricFamily(
            "remit_decision_duration_seconds",
            "Time the policy engine took to evaluate one decision.",
            buckets=_cumulative(_DECISION_LE, buckets),
            sum_value=total_us / 1e6,
        )


class _RequestTimes(Collector):
    """The decision endpoints' durations on their way into ``histogram`` (``remit_http_request_duration_seconds``).

    The hot path only appends (endpoint, status, seconds) to a list; every ``FOLD_EVERY`` requests, and when the
    registry is collected (this collector is registered before the histogram, so it runs first), they are folded in,
    a bucket count and a sum per (endpoint, status). ``Histogram.observe`` per request took a lock for the sum and
    one for the bucket, ~10k instructions. It yields nothing itself: the histogram renders as it always has.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending: list[tuple[str, int, float]] = []
        self.histogram: Histogram | None = None
        self._children: dict[tuple[str, int], Histogram] = {}

    def fold(self) -> None:
        histogram = self.histogram
        if histogram is None:
            return
        with self._lock:
            pending = self.pending
            # Appends may land while this runs: they go after what is taken here, and wait for the next fold.
            batch = pending[:]
            del pending[: len(batch)]
            grouped: dict[tuple[str, int], list[float]] = {}
            for endpoint, status, seconds in batch:
                times = grouped.get((endpoint, status))
                if times is None:
                    grouped[endpoint, status] = [seconds]
                else:
                    times.append(seconds)
            for (endpoint, status), times in grouped.items():
                child = self._children.get((endpoint, status))
                if child is None:
                    child = self._children[endpoint, status] = histogram.labels(endpoint, status)
                _observe_all(child, times)

    def collect(self) -> Iterable[Metric]:
        self.fold()
        return ()


def _observe_all(child: Histogram, times: list[float]) -> None:
    """``child.observe(t)`` for each of ``times``: one addition per bucket and one to the sum."""
    bounds: Sequence[float] | None = getattr(child, "_upper_bounds", None)
    buckets: Sequence[Any] | None = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):  # another prometheus_client
        for t in times:
            child.observe(t)
        return
    counts = [0] * len(bounds)
    for t in times:
        if t == t:  # as observe does: NaN goes into the sum and no bucket
            counts[bisect_left(bounds, t)] += 1  # the first bound >= t: the bucket observe would pick
    total.inc(sum(times))
    for bucket, n in zip(buckets, counts, strict=True):
        if n:
            bucket.inc(n)


def _cumulative(bounds: Sequence[str], counts: Sequence[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip((*bounds, "+Inf"), counts, strict=True):
        running += n
        out.append((bound, running))
    return out


class _StateCollector(Collector):
    """What is true now, read when scraped: the audit log's queue and counters, the policy in force."""

    def __init__(self, audit_log: AuditLog | None, pdp: PolicyEngine | None) -> None:
        self._audit_log = audit_log
        self._pdp = pdp

    def collect(self) -> Iterable[Metric]:
        build = GaugeMetricFamily("remit_build_info", "Remit's version, as a label; always 1.", labels=("version",))
        build.add_metric((__version__,), 1)
        yield build
        if self._audit_log is not None:
            log, stats = self._audit_log, self._audit_log.stats
            yield GaugeMetricFamily(
                "remit_audit_queue_depth", "Audit records queued or being written, not yet committed.", log.depth()
            )
            for name, doc, value in (
                ("remit_audit_records_queued", "Audit records accepted by the log (queued).", stats.recorded),
                ("remit_audit_records_committed", "Audit records committed to the store.", stats.committed),
                ("remit_audit_batches", "Group commits of the audit log.", stats.batches),
                ("remit_audit_refused", "Records refused, so their requests failed closed.", stats.refused),
                ("remit_audit_commit_failures", "Audit commits (or retries) that failed.", stats.failures),
            ):
                yield CounterMetricFamily(name, doc, value)
        if self._pdp is not None:
            state = self._pdp.state
            if state is not None:
                policy = GaugeMetricFamily(
                    "remit_policy_version",
                    "The policy set version the engine evaluates, and its mode.",
                    labels=("mode",),
                )
                policy.add_metric((state.mode.value,), state.version)
                yield policy
