"""``GET /metrics``: the process's metrics for a Prometheus scraper (text format; OpenMetrics if asked for).

Metrics are operational data, not secrets, but they tell who asks for decisions and how often: a scraper sends
an admin token of role admin, auditor or pep, unless ``observability.metrics_public`` says the port is private.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from remit.admin.access import Act, authorize
from remit.api.deps import authenticate
from remit.api.schemas.common import ErrorBody
from remit.container import Remit

router = APIRouter(tags=["observability"])

_E: dict[str, Any] = {"model": ErrorBody}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4, or OpenMetrics 1.0 when `Accept` asks for it",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: {**_E, "description": "No valid bearer token (unless `observability.metrics_public`)"},
        403: {**_E, "description": "The token's role may not read metrics (admin, auditor and pep may)"},
    },
    openapi_extra={"security": [{"HTTPBearer": []}]},
)
async def metrics(request: Request) -> Response:
    """The metrics named in docs/deployment.md: decisions, latency, the audit log, tokens, the process."""
    remit: Remit = request.app.state.remit
    if not remit.settings.observability.metrics_public:
        p = await authenticate(remit, request.headers.get("authorization"))
        authorize(p, Act.METRICS_READ)
    body, content_type = remit.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
