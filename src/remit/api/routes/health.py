"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from remit.api.deps import RemitDep
from remit.api.schemas.common import ErrorBody

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": ErrorBody}})
def readyz(remit: RemitDep) -> HealthResponse | JSONResponse:
    """The store answers."""
    try:
        with remit.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse(
            {"code": "store_unavailable", "message": "the store is unavailable", "field": None}, status_code=503
        )
    return HealthResponse(status="ready")
