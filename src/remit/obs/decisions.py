"""The engine's decision sink, fanned out to logs, metrics and traces; and which edge asked for a decision.

The engine calls its sink for every decision it makes, whoever asked (AuthZEN, searches, the in-process
``Authorizer``). Sinks observe: one that fails is logged and never changes or blocks the decision.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from remit.policy.engine import DecisionSink
from remit.policy.model import AuthzRequest, Decision

log = logging.getLogger(__name__)

#: where the decisions made in this context are asked for: the edge sets it for the request it serves
#: (``authzen``, ``search``); the in-process ``Authorizer`` and anything else count as ``in_process``
decision_source: ContextVar[str] = ContextVar("remit_decision_source", default="in_process")


def fan_out(*sinks: DecisionSink) -> DecisionSink:
    """One sink that calls each of ``sinks`` in order."""
    if len(sinks) == 1:
        return sinks[0]

    def every(request: AuthzRequest, decision: Decision) -> None:
        for sink in sinks:
            try:
                sink(request, decision)
            except Exception:  # an observer's bug must not turn an answered decision into a failed request
                log.exception("decision sink %s failed", getattr(sink, "__qualname__", sink))

    return every
