"""``GET /metrics`` over real HTTP: decisions counted exactly, latency histograms, the audit log, who may scrape."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from remit import __version__
from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.obs.decisions import decision_source, fan_out
from remit.obs.metrics import DECISION_BUCKETS_US, FOLD_EVERY, REQUEST_BUCKETS, Metrics
from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode
from remit.registry.service import UserDraft
from remit.settings import load_settings
from tests.api.conftest import LiveServer, TokenFactory, serve
from tests.obs.conftest import Samples, ask, estate, scrape

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
ADMIN = AdminPrincipal(actor="test:setup", role=AdminRole.ADMIN)


def decisions(samples: Samples, result: str, source: str = "authzen", mode: str = "enforce") -> float:
    key = ("remit_decisions_total", (("mode", mode), ("result", result), ("source", source)))
    return samples.get(key, 0.0)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_decision_is_counted_once_by_result(admin_client: httpx.Client, live: LiveServer) -> None:
    estate(live.remit)
    before = scrape(admin_client)
    asked = [("bot", "read", True)] * 3 + [("bot", "write", False), ("ghost", "read", False)]
    for agent, action, allowed in asked:
        response = admin_client.post(EVALUATION, json=ask(agent, action))
        assert response.status_code == 200, response.text
        assert response.json()["decision"] is allowed
    after = scrape(admin_client)

    assert decisions(after, "allow") - decisions(before, "allow") == 3
    assert decisions(after, "deny") - decisions(before, "deny") == 2
    denial = "remit_decision_denials_total"
    assert value(after, denial, code="no_permit") - value(before, denial, code="no_permit") == 1
    assert value(after, denial, code="unregistered_agent") - value(before, denial, code="unregistered_agent") == 1
    # the engine's time: five more observations, each in a bucket
    count = "remit_decision_duration_seconds_count"
    assert value(after, count) - value(before, count) == 5
    assert value(after, "remit_decision_duration_seconds_bucket", le="+Inf") == value(after, count)
    assert 0 < value(after, "remit_decision_duration_seconds_sum") < 5  # seconds, not microseconds
    # the endpoint's time: five requests answered 200
    http = "remit_http_request_duration_seconds_count"
    assert (
        value(after, http, endpoint=EVALUATION, status="200") - value(before, http, endpoint=EVALUATION, status="200")
        == 5
    )


def test_batches_count_each_item_and_searches_and_in_process_checks_have_their_source(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    estate(live.remit)
    before = scrape(admin_client)
    batch = {"evaluations": [ask("bot", "read"), ask("bot", "write"), ask("bot", "delete")]}
    response = admin_client.post(EVALUATIONS, json=batch)
    assert [e["decision"] for e in response.json()["evaluations"]] == [True, False, False]
    search = admin_client.post(
        "/access/v1/search/action",
        json={"subject": {"type": "agent", "id": "bot"}, "resource": {"type": "mcp_server", "id": "helpdesk"}},
    )
    assert search.status_code == 200, search.text
    assert {"name": "read"} in search.json()["results"]
    assert live.remit.authorizer().check(("agent", "bot"), "read", ("mcp_server", "helpdesk")).allowed
    after = scrape(admin_client)

    assert decisions(after, "allow") - decisions(before, "allow") == 1
    assert decisions(after, "deny") - decisions(before, "deny") == 2
    assert decisions(after, "allow", source="search") - decisions(before, "allow", source="search") >= 1
    assert decisions(after, "allow", source="in_process") - decisions(before, "allow", source="in_process") == 1
    http = "remit_http_request_duration_seconds_count"
    assert value(after, http, endpoint=EVALUATIONS, status="200") == 1
    assert value(after, http, endpoint="/access/v1/search/action", status="200") == 1


def test_refused_requests_are_timed_with_their_status(live: LiveServer, admin_client: httpx.Client) -> None:
    with live.client() as anonymous:
        assert anonymous.post(EVALUATION, json=ask("bot", "read")).status_code == 401
    assert admin_client.post(EVALUATION, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    after = scrape(admin_client)
    http = "remit_http_request_duration_seconds_count"
    assert value(after, http, endpoint=EVALUATION, status="401") == 1
    assert value(after, http, endpoint=EVALUATION, status="400") == 1
    assert decisions(after, "allow") == decisions(after, "deny") == 0  # neither reached the engine


def test_log_only_decisions_are_told_allow_and_counted_as_would_deny(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    estate(live.remit)
    live.remit.policies.set_mode(ADMIN, Mode.LOG_ONLY, reason="trying policies out")
    live.remit.refresher.refresh()
    before = scrape(admin_client)
    assert admin_client.post(EVALUATION, json=ask("bot", "write")).json()["decision"] is True
    after = scrape(admin_client)
    assert decisions(after, "allow", mode="log_only") - decisions(before, "allow", mode="log_only") == 1
    assert decisions(after, "deny", mode="enforce") == decisions(before, "deny", mode="enforce")
    denial = "remit_decision_denials_total"
    assert value(after, denial, code="no_permit") - value(before, denial, code="no_permit") == 1
    # the policy in force: no version applied yet (the registry's own permits), in log-only mode
    assert after[("remit_policy_version", (("mode", "log_only"),))] == 0
    assert ("remit_policy_version", (("mode", "enforce"),)) not in after


def test_audit_log_metrics_follow_its_stats(admin_client: httpx.Client, live: LiveServer) -> None:
    estate(live.remit)
    for _ in range(4):
        assert admin_client.post(EVALUATION, json=ask("bot", "read")).status_code == 200
    live.remit.audit_log.flush()
    samples = scrape(admin_client)
    stats = live.remit.audit_log.stats
    assert value(samples, "remit_audit_records_committed_total") == stats.committed >= 4
    assert value(samples, "remit_audit_records_queued_total") == stats.recorded >= stats.committed
    assert value(samples, "remit_audit_batches_total") == stats.batches >= 1
    assert ("remit_audit_queue_depth", ()) in samples
    assert value(samples, "remit_audit_refused_total") == 0
    assert value(samples, "remit_audit_commit_failures_total") == 0
    # every commit timed, through the log's on_commit hook
    assert value(samples, "remit_audit_commit_duration_seconds_count") == stats.batches
    assert value(samples, "remit_build_info", version=__version__) == 1
    # the token service's counter exists before it does: at zero, per grant type
    for grant in ("client_credentials", "token_exchange"):
        assert value(samples, "remit_tokens_issued_total", grant_type=grant) == 0
    assert value(samples, "process_cpu_seconds_total") > 0


def test_refusals_are_counted_when_the_audit_log_cannot_take_a_record(
    admin_client: httpx.Client, live: LiveServer
) -> None:
    estate(live.remit)
    live.remit.audit_log.stop()  # a stopped log refuses: the request fails closed
    try:
        assert admin_client.post(EVALUATION, json=ask("bot", "read")).status_code >= 500
    finally:
        live.remit.audit_log.start()
    samples = scrape(admin_client)
    assert value(samples, "remit_audit_refused_total") == 1


def test_scraping_needs_a_token_of_role_admin_auditor_or_pep(live: LiveServer, mint: TokenFactory) -> None:
    with live.client() as anonymous:
        response = anonymous.get("/metrics")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == 'Bearer realm="remit"'
    with live.client("remit_adm_not-a-token") as forged:
        assert forged.get("/metrics").status_code == 401
    live.remit.registry.create_user(ADMIN, UserDraft(id="alice", email="alice@example.org"))
    with live.client(mint(AdminRole.OWNER, user_id="alice")) as owner:
        refused = owner.get("/metrics")
    assert refused.status_code == 403
    assert refused.json() == {"code": "forbidden", "message": "role owner may not metrics.read", "field": None}
    for role in (AdminRole.ADMIN, AdminRole.AUDITOR, AdminRole.PEP):
        with live.client(mint(role)) as client:
            assert ("remit_audit_queue_depth", ()) in scrape(client)


def test_openmetrics_when_the_scraper_asks_for_it(admin_client: httpx.Client) -> None:
    response = admin_client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.text.endswith("# EOF\n")


def test_public_metrics_need_no_token(tmp_path: Path, database_url: str, clock: FrozenClock) -> None:
    settings = load_settings(home=tmp_path, database_url=database_url, observability={"metrics_public": True})
    remit = Remit.from_settings(settings, clock=clock)
    try:
        with serve(remit) as server, server.client() as anonymous:
            samples = scrape(anonymous)
            assert ("remit_audit_queue_depth", ()) in samples
            # only the metrics: the decision endpoints still want a token
            assert anonymous.post(EVALUATION, json=ask("bot", "read")).status_code == 401
    finally:
        remit.close()


# -- the collector itself ----------------------------------------------------------------------------------


def _decision(eval_us: float, *, allowed: bool = True, code: DenyCode | None = None) -> Decision:
    effect = Effect.ALLOW if code is None else Effect.DENY
    return Decision("dec_x", allowed, effect, 1, Mode.ENFORCE, deny_code=code, eval_us=eval_us)


REQUEST = AuthzRequest(principal=EntityRef("Agent", "bot"), action="read", resource=EntityRef("App", "crm"))


def _families(metrics: Metrics) -> Samples:
    body, _ = metrics.exposition()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_decision_latency_buckets_are_inclusive_upper_bounds_in_seconds() -> None:
    metrics = Metrics()
    assert DECISION_BUCKETS_US[0] == 20 and DECISION_BUCKETS_US[-1] == 50_000
    for us in (20.0, 20.5, 50_000.0, 50_001.0):
        metrics.observe_decision(REQUEST, _decision(us))
    samples = _families(metrics)
    bucket = "remit_decision_duration_seconds_bucket"
    assert value(samples, bucket, le="2e-05") == 1  # 20 µs is "<= 20 µs"
    assert value(samples, bucket, le="3.5e-05") == 2
    assert value(samples, bucket, le="0.05") == 3
    assert value(samples, bucket, le="+Inf") == 4
    assert value(samples, "remit_decision_duration_seconds_sum") == pytest.approx(100_041.5e-6)


def test_the_source_is_the_context_the_decision_is_made_in() -> None:
    metrics = Metrics()
    metrics.observe_decision(REQUEST, _decision(40))
    token = decision_source.set("gateway")
    try:
        metrics.observe_decision(REQUEST, _decision(40, allowed=False, code=DenyCode.FORBIDDEN))
    finally:
        decision_source.reset(token)
    samples = _families(metrics)
    assert decisions(samples, "allow", source="in_process") == 1
    assert decisions(samples, "deny", source="gateway") == 1
    assert value(samples, "remit_decision_denials_total", code="forbidden") == 1


def test_a_failing_sink_neither_stops_the_others_nor_the_decision(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(_request: AuthzRequest, _decision: Decision) -> None:
        raise RuntimeError("observer bug")

    sink = fan_out(broken, lambda _r, d: seen.append(d.decision_id))
    sink(REQUEST, _decision(40))
    assert seen == ["dec_x"]
    assert "decision sink" in caplog.text and "broken" in caplog.text


def test_registries_are_per_instance() -> None:
    one, two = Metrics(), Metrics()
    one.observe_decision(REQUEST, _decision(40))
    one.token_issued("client_credentials")
    assert decisions(_families(one), "allow", source="in_process") == 1
    assert decisions(_families(two), "allow", source="in_process") == 0
    assert value(_families(one), "remit_tokens_issued_total", grant_type="client_credentials") == 1


def test_decisions_from_many_threads_are_all_counted_while_scraped() -> None:
    metrics = Metrics()
    per_thread, workers = 3 * FOLD_EVERY + 17, 6

    def work() -> None:
        for _ in range(per_thread):
            metrics.observe_decision(REQUEST, _decision(40))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        _families(metrics)  # folds what is pending, concurrently with the appends
    for thread in threads:
        thread.join()
    samples = _families(metrics)
    assert decisions(samples, "allow", source="in_process") == per_thread * workers
    assert value(samples, "remit_decision_duration_seconds_count") == per_thread * workers
    assert value(samples, "remit_decision_duration_seconds_bucket", le="5e-05") == per_thread * workers


def test_request_times_are_folded_as_histogram_observe_would_count_them() -> None:
    # Folded a bucket count at a time (every FOLD_EVERY requests and at each collection), yet the same series as
    # observing each request: compared with a plain histogram of the same buckets fed one observation at a time.
    metrics, registry = Metrics(), CollectorRegistry()
    plain = Histogram("plain", "", ("endpoint", "status"), buckets=REQUEST_BUCKETS, registry=registry)
    times = [0.0, 0.0001, 0.00010001, 0.003, 0.07, 2.5, 9.0, -1.0] * 20 + [0.0004] * (FOLD_EVERY + 3)
    for i, seconds in enumerate(times):
        endpoint, status = (EVALUATION, 200) if i % 3 else (EVALUATIONS, 400)
        metrics.observe_request(endpoint, status, seconds)
        plain.labels(endpoint, status).observe(seconds)
        if i == 100:
            assert metrics.registry.get_sample_value(  # collecting the registry folds what waits
                "remit_http_request_duration_seconds_count", {"endpoint": EVALUATION, "status": "200"}
            ) == sum(1 for j in range(101) if j % 3)
    for path, code in ((EVALUATION, "200"), (EVALUATIONS, "400")):
        for bound in (*(repr(b) for b in REQUEST_BUCKETS), "+Inf"):
            labels = {"endpoint": path, "status": code, "le": bound}
            got = metrics.registry.get_sample_value("remit_http_request_duration_seconds_bucket", labels)
            assert got is not None and got == registry.get_sample_value("plain_bucket", labels), labels
        labels = {"endpoint": path, "status": code}
        got_sum = metrics.registry.get_sample_value("remit_http_request_duration_seconds_sum", labels)
        assert got_sum == pytest.approx(registry.get_sample_value("plain_sum", labels))
