"""OpenTelemetry spans of the decision path over real HTTP: the caller's trace joined, the engine's span under the
route's, nothing when tracing is off; and spans really leaving over OTLP/HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from remit.clock import FrozenClock
from remit.container import Remit
from remit.obs.tracing import EVALUATE, Tracing
from remit.settings import ObservabilitySettings, Settings, load_settings
from tests.api.conftest import LiveServer, serve
from tests.obs.conftest import ask, estate
from tests.servers import http_serving

EVALUATION = "/access/v1/evaluation"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Tracing on, exporting nowhere: each test adds an in-memory exporter."""
    return load_settings(
        home=tmp_path, database_url=database_url, observability={"tracing": True, "trace_exporter": "none"}
    )


@pytest.fixture
def spans(live: LiveServer) -> InMemorySpanExporter:
    assert live.remit.tracing is not None
    exporter = InMemorySpanExporter()
    live.remit.tracing.add_exporter(exporter)
    estate(live.remit)
    return exporter


def finished(remit: Remit, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert remit.tracing is not None
    assert remit.tracing.force_flush()
    return list(exporter.get_finished_spans())


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_a_decision_joins_the_callers_trace(
    admin_client: httpx.Client, live: LiveServer, spans: InMemorySpanExporter
) -> None:
    response = admin_client.post(EVALUATION, json=ask("bot", "read"), headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    decision_id = response.json()["context"]["decision_id"]

    got = finished(live.remit, spans)
    [route] = named(got, "remit.authzen.evaluation")
    [evaluate] = named(got, EVALUATE)
    assert route.context is not None and evaluate.context is not None
    assert format(route.context.trace_id, "032x") == TRACE_ID
    assert route.parent is not None and format(route.parent.span_id, "016x") == PARENT_ID
    assert route.parent.is_remote
    assert route.kind is SpanKind.SERVER
    assert route.attributes is not None
    assert dict(route.attributes) == {
        "http.request.method": "POST",
        "http.route": EVALUATION,
        "http.response.status_code": 200,
    }
    # the engine's evaluation: a child of the route's span, with its own timing and the decision's ids
    assert evaluate.context.trace_id == route.context.trace_id
    assert evaluate.parent is not None and evaluate.parent.span_id == route.context.span_id
    assert route.start_time is not None and evaluate.start_time is not None
    assert evaluate.end_time is not None and route.end_time is not None
    assert route.start_time <= evaluate.start_time <= evaluate.end_time <= route.end_time
    assert evaluate.attributes is not None
    assert evaluate.attributes["remit.decision.id"] == decision_id
    assert evaluate.attributes["remit.decision.allowed"] is True
    assert evaluate.attributes["remit.principal"] == 'Agent::"bot"'
    assert evaluate.attributes["remit.resource"] == 'McpServer::"helpdesk"'
    assert evaluate.attributes["remit.action"] == "read"
    assert evaluate.status.status_code is StatusCode.UNSET


def test_without_a_traceparent_a_trace_starts_here_and_a_deny_says_why(
    admin_client: httpx.Client, live: LiveServer, spans: InMemorySpanExporter
) -> None:
    assert admin_client.post(EVALUATION, json=ask("bot", "write")).json()["decision"] is False
    got = finished(live.remit, spans)
    [route] = named(got, "remit.authzen.evaluation")
    [evaluate] = named(got, EVALUATE)
    assert route.parent is None
    assert evaluate.attributes is not None
    assert evaluate.attributes["remit.decision.allowed"] is False
    assert evaluate.attributes["remit.decision.deny_code"] == "no_permit"
    assert evaluate.attributes["remit.decision.policies"] == ()
    assert evaluate.status.status_code is StatusCode.UNSET  # a deny is an answer, not a failure


def test_a_batch_has_one_evaluation_span_per_item_and_a_search_only_its_route(
    admin_client: httpx.Client, live: LiveServer, spans: InMemorySpanExporter
) -> None:
    batch = {"evaluations": [ask("bot", "read"), ask("bot", "write")]}
    response = admin_client.post("/access/v1/evaluations", json=batch, headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    search = {"subject": {"type": "agent", "id": "bot"}, "resource": {"type": "mcp_server", "id": "helpdesk"}}
    assert admin_client.post("/access/v1/search/action", json=search).status_code == 200

    got = finished(live.remit, spans)
    [route] = named(got, "remit.authzen.evaluations")
    evaluations = named(got, EVALUATE)
    assert route.context is not None
    assert [e.parent.span_id for e in evaluations if e.parent] == [route.context.span_id] * 2
    assert {format(e.context.trace_id, "032x") for e in evaluations if e.context} == {TRACE_ID}
    [search_span] = named(got, "remit.authzen.search.action")
    assert search_span.attributes is not None and search_span.attributes["http.response.status_code"] == 200
    assert len(got) == 4


def test_a_refused_request_is_traced_with_its_status_and_is_not_an_error(
    live: LiveServer, spans: InMemorySpanExporter
) -> None:
    with live.client() as anonymous:
        assert anonymous.post(EVALUATION, json=ask("bot", "read"), headers={"traceparent": TRACEPARENT}).status_code
    [route] = finished(live.remit, spans)
    assert route.name == "remit.authzen.evaluation"
    assert route.attributes is not None
    assert route.attributes["http.response.status_code"] == 401
    assert route.attributes["error.type"] == "unauthenticated"
    assert route.status.status_code is StatusCode.UNSET


def test_a_server_failure_marks_the_span(live: LiveServer, spans: InMemorySpanExporter) -> None:
    live.remit.audit_log.stop()  # the decision cannot be recorded: the request fails closed
    try:
        with live.client(live.admin_token) as client:
            assert client.post(EVALUATION, json=ask("bot", "read")).status_code >= 500
    finally:
        live.remit.audit_log.start()
    [route] = named(finished(live.remit, spans), "remit.authzen.evaluation")
    assert route.status.status_code is StatusCode.ERROR
    assert route.attributes is not None and route.attributes["error.type"] == "audit_unavailable"
    assert [e.name for e in route.events] == ["exception"]


def test_tracing_is_off_by_default(tmp_path: Path) -> None:
    assert ObservabilitySettings().tracing is False
    assert Tracing.from_settings(ObservabilitySettings()) is None
    remit = Remit.from_settings(load_settings(home=tmp_path), clock=FrozenClock())
    try:
        assert remit.tracing is None
    finally:
        remit.close()


def test_a_new_trace_is_sampled_by_ratio_but_a_callers_choice_is_followed() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing.from_settings(
        ObservabilitySettings(tracing=True, trace_sample_ratio=0.0, trace_exporter="none"), exporter=exporter
    )
    assert tracing is not None
    try:
        tracing.start_request("remit.authzen.evaluation", {}, EVALUATION).end(200)
        tracing.start_request("remit.authzen.evaluation", {"traceparent": TRACEPARENT}, EVALUATION).end(200)
        tracing.force_flush()
        [kept] = exporter.get_finished_spans()
        assert kept.context is not None and format(kept.context.trace_id, "032x") == TRACE_ID
    finally:
        tracing.shutdown()


# -- OTLP over HTTP, to a collector of our own --------------------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    with http_serving(handler) as url:
        yield f"{url}/v1/traces", received


def test_spans_reach_an_otlp_collector(
    tmp_path: Path, database_url: str, clock: FrozenClock, collector: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    endpoint, received = collector
    settings = load_settings(
        home=tmp_path,
        database_url=database_url,
        observability={"tracing": True, "otlp_endpoint": endpoint, "service_name": "remit-test"},
    )
    remit = Remit.from_settings(settings, clock=clock)
    try:
        estate(remit)
        with serve(remit) as server, server.client(server.admin_token) as client:
            response = client.post(EVALUATION, json=ask("bot", "read"), headers={"traceparent": TRACEPARENT})
            assert response.status_code == 200
        assert remit.tracing is not None and remit.tracing.force_flush()
    finally:
        remit.close()
    assert received, "no export reached the collector"
    names: set[str] = set()
    for path, content_type, body in received:
        assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "remit-test"
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    assert span.trace_id.hex() == TRACE_ID
                    names.add(span.name)
    assert names == {"remit.authzen.evaluation", EVALUATE}
