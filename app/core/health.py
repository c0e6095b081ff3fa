"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import PROBLEM_MEDIA_TYPE, problem_response, problem_responses
from app.core.migrations import head_revisions

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migrations: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: the database answers and its schema is at the migrations' head",
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Response | Readiness:
    db = getattr(request.app.state, "db", None)
    if db is None:
        return _not_ready(request, "The database is not configured yet")
    try:
        async with db.engine.connect() as conn:
            versions: set[str] = set()
            if (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar() is not None:
                versions = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception:  # any failure to reach the database means "not ready"
        return _not_ready(request, "The database is unreachable")
    if versions != set(head_revisions()):
        return _not_ready(request, "Database migrations are not at head; run `crm migrate`")
    return Readiness(status="ready", database="ok", migrations="head")


def _not_ready(request: Request, detail: str) -> Response:
    return problem_response(
        503, "not-ready", "Not ready", detail, request=request,
        headers={"Retry-After": str(request.app.state.settings.retry_after_s)},
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


__all__ = ["router", "PROBLEM_MEDIA_TYPE"]
