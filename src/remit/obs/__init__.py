"""Observability: Prometheus metrics and OpenTelemetry traces of the decision path.

The names below are imported when first used (PEP 562): OpenTelemetry is loaded only where tracing is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remit import lazy

if TYPE_CHECKING:
    from remit.obs.decisions import decision_source, fan_out
    from remit.obs.metrics import Metrics
    from remit.obs.tracing import RequestSpan, Tracing

#: each exported name and the module that defines it
_EXPORTS = {
    "decision_source": "remit.obs.decisions",
    "fan_out": "remit.obs.decisions",
    "Metrics": "remit.obs.metrics",
    "RequestSpan": "remit.obs.tracing",
    "Tracing": "remit.obs.tracing",
}

__all__ = ["Metrics", "RequestSpan", "Tracing", "decision_source", "fan_out"]

__getattr__ = lazy.exports(__name__, _EXPORTS)
