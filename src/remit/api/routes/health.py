"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from remit.api.deps import RemitDep
from remit.api.schemas.common import ErrorBody
from remit.container import Remit

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": ErrorBody, "description": "The store did not answer within its statement bound"}},
)
async def readyz(remit: RemitDep) -> HealthResponse | JSONResponse:
    """The store answers, within `store.statement_timeout_seconds`."""
    bound = remit.settings.store.statement_timeout_seconds
    answered = False
    # The answer comes within the bound even when no worker thread is free or the check itself hangs on: the thread
    # is left to finish on its own (it is bounded by the store's own timeouts).
    with anyio.move_on_after(bound):
        answered = await anyio.to_thread.run_sync(_ping, remit, abandon_on_cancel=True)
    if not answered:
        return JSONResponse(
            {"code": "store_unavailable", "message": "the store is unavailable", "field": None}, status_code=503
        )
    return HealthResponse(status="ready")


def _ping(remit: Remit) -> bool:
    try:
        with remit.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("readiness: the store did not answer: %s", type(exc).__name__)
        return False
    return True
