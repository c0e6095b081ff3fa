"""Errors as RFC 9457 problem details, mapped in one place.

Services raise DomainError subclasses (never HTTPException); the handlers installed by
`install_error_handlers` turn every failure, ours or the framework's, into
`application/problem+json` with a stable `code`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://crm-pipeline.dev/problems/"

log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Path of the offending field, e.g. ['body', 'amount']")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=[TYPE_BASE + "not-found"])
    code: str = Field(description="Stable machine-readable code", examples=["not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["No opportunity with that id"])
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    model_config = {"extra": "allow"}


class DomainError(Exception):
    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class BadRequest(DomainError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, code, title = 412, "precondition-failed", "The resource changed since you read it"


class PreconditionRequired(DomainError):
    status, code, title = 428, "precondition-required", "If-Match header required"


class Unprocessable(DomainError):
    status, code, title = 422, "unprocessable", "The request cannot be applied"


class TooManyRequests(DomainError):
    status, code, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service-unavailable", "Service temporarily unavailable"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    request: Request | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "code": code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        rid = request.scope.get("state", {}).get("request_id")
        if rid:
            body["request_id"] = rid
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body, default=str), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid request"),
    429: ("too-many-requests", "Too many requests"),
    503: ("service-unavailable", "Service temporarily unavailable"),
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())], "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, (ConnectionError, OSError)):
        return True
    # SQLAlchemy wraps the driver's error (orig); hot reads raise asyncpg's own.
    orig = getattr(exc, "orig", None) or exc.__cause__ or exc
    return type(orig).__name__ in {
        "ConnectionDoesNotExistError",
        "InternalClientError",
        "InterfaceError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "TooManyConnectionsError",
    }


def install_error_handlers(app: FastAPI, *, retry_after_s: int) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, request=request,
            errors=exc.errors, headers=exc.headers, extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "malformed-body", "Malformed JSON body", "The body is not valid JSON", request=request, errors=errors)
        return problem_response(422, "validation-error", "Invalid request", "One or more fields are invalid", request=request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _STATUS_TITLES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(exc.status_code, code, title, detail, request=request, headers=getattr(exc, "headers", None))

    def connection_lost(request: Request, exc: Exception) -> Response:
        log.warning("database_unavailable", error=type(exc).__name__)
        return problem_response(
            503, "database-unavailable", "Database temporarily unavailable",
            "The database connection was lost; retry shortly", request=request,
            headers={"Retry-After": str(retry_after_s)},
        )

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def database_error(request: Request, exc: sa_exc.SQLAlchemyError) -> Response:
        if _is_connection_error(exc):
            return connection_lost(request, exc)
        return await unhandled(request, exc)

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.InternalClientError)
    async def driver_error(request: Request, exc: Exception) -> Response:
        """Errors of the hot reads, which run on asyncpg directly (core/hot_reads.py)."""
        if _is_connection_error(exc):
            return connection_lost(request, exc)
        return await unhandled(request, exc)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> Response:
        log.warning("database_unreachable", error=type(exc).__name__)
        return problem_response(
            503, "database-unavailable", "Database temporarily unavailable",
            "The database cannot be reached; retry shortly", request=request,
            headers={"Retry-After": str(retry_after_s)},
        )

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", exc_info=exc)
        return problem_response(500, "internal-error", "Internal server error", request=request)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problem bodies, so clients and contract tests
    know every status an operation can answer."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code, title = _STATUS_TITLES.get(status, ("error", "Error"))
        out[status] = {
            "description": title,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


COMMON_ERROR_STATUSES = (400, 401, 403, 404, 409, 412, 413, 422, 429, 503)
