"""OpenTelemetry traces of the decision path; the only module that imports ``opentelemetry``. Off by default.

Two spans per decision asked over HTTP:

* ``remit.authzen.<endpoint>`` (server span) around the route, from authentication to the audit receipt, in the
  caller's trace when the request carries a W3C ``traceparent`` header;
* ``remit.policy.evaluate``, its child, for each engine evaluation: recorded by the engine's decision sink after
  the fact, with the engine's own start and end (``Decision.eval_us``), so the engine itself knows nothing of
  tracing. Searches evaluate once per candidate: they get the route span only.

Spans carry ids (decision, policies, principal, action, resource), never the request's context or properties.
Each ``Tracing`` has its own ``TracerProvider``: the global one is left to the embedding application. When
tracing is off there is no ``Tracing`` at all, and the decision path does no tracing work.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import Token

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from remit import __version__
from remit.obs.decisions import decision_source
from remit.policy.model import AuthzRequest, Decision, DenyCode
from remit.settings import ObservabilitySettings

#: the span of one engine evaluation
EVALUATE = "remit.policy.evaluate"
#: deny codes that mean something failed, not that policy said no: the evaluation span's status is ERROR
_FAILURES = frozenset({DenyCode.ENGINE_ERROR, DenyCode.EVALUATION_ERROR})
_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    """A tracer over a provider of our own; ``add_exporter`` sends its spans somewhere more."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("remit", __version__)

    @classmethod
    def from_settings(cls, settings: ObservabilitySettings, *, exporter: SpanExporter | None = None) -> Tracing | None:
        """None when tracing is off. ``exporter`` replaces the one the settings name."""
        if not settings.tracing:
            return None
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.service_name, SERVICE_VERSION: __version__}),
            sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
        )
        tracing = cls(provider)
        chosen = exporter or _exporter(settings)
        if chosen is not None:
            tracing.add_exporter(chosen)
        return tracing

    def add_exporter(self, exporter: SpanExporter) -> None:
        """Export finished spans in batches, off the request path, to ``exporter`` too."""
        self.provider.add_span_processor(BatchSpanProcessor(exporter))

    def start_request(self, name: str, headers: Mapping[str, str], route: str) -> RequestSpan:
        """Start the server span of one request and make it current: a child of the caller's ``traceparent``, if
        the headers carry one. End it with ``RequestSpan.end`` in the same task."""
        parent: Context = _PROPAGATOR.extract(headers)
        span = self.tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": route},
        )
        return RequestSpan(span, context.attach(trace.set_span_in_context(span, parent)))

    def observe_decision(self, request: AuthzRequest, decision: Decision) -> None:
        """The engine's sink: one ``remit.policy.evaluate`` span for the evaluation just finished."""
        if decision_source.get() == "search":
            return
        end = time.time_ns()
        span = self.tracer.start_span(EVALUATE, start_time=end - int(decision.eval_us * 1000))
        if span.is_recording():
            span.set_attributes(
                {
                    "remit.decision.id": decision.decision_id,
                    "remit.decision.allowed": decision.allowed,
                    "remit.decision.effect": decision.effect.value,
                    "remit.decision.policies": list(decision.reasons),
                    "remit.policy.version": decision.policy_version,
                    "remit.policy.mode": decision.mode.value,
                    "remit.principal": str(request.principal),
                    "remit.action": request.action,
                    "remit.resource": str(request.resource),
                }
            )
            code = decision.deny_code
            if code is not None:
                span.set_attribute("remit.decision.deny_code", code.value)
                if code in _FAILURES:
                    span.set_status(Status(StatusCode.ERROR, code.value))
        span.end(end_time=end)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporters."""
        self.provider.shutdown()


class RequestSpan:
    """A request's server span, current until ``end``."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span, token: Token[Context]) -> None:
        self._span = span
        self._token = token

    @property
    def span(self) -> Span:
        return self._span

    def end(self, status: int, error: BaseException | None = None) -> None:
        """Record the response status (and the error, if one ended the request), end the span, restore the
        context. Only a 5xx marks the span as failed: a 4xx is the caller's mistake, not ours."""
        span = self._span
        span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_attribute("error.type", str(getattr(error, "code", "")) or type(error).__name__)
            if status >= 500:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
        context.detach(self._token)


def _exporter(settings: ObservabilitySettings) -> SpanExporter | None:
    if settings.trace_exporter == "otlp":
        return OTLPSpanExporter(endpoint=settings.otlp_endpoint)  # None: the standard OTEL_EXPORTER_OTLP_* variables
    if settings.trace_exporter == "console":
        return ConsoleSpanExporter(service_name=settings.service_name)
    return None
