"""Observability: Prometheus metrics and OpenTelemetry traces of the decision path."""

from remit.obs.decisions import decision_source, fan_out
from remit.obs.metrics import Metrics
from remit.obs.tracing import RequestSpan, Tracing

__all__ = ["Metrics", "RequestSpan", "Tracing", "decision_source", "fan_out"]
