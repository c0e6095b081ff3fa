"""create_app(): the ASGI application with its routers, middleware, error handlers and lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import mount_routes
from app.core import embedded, idempotency
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.docs import install_docs
from app.core.errors import Problem, install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.core.migrations import upgrade_to_head_async
from app.identity.api_keys import ApiKeyAuthenticator
from app.identity.tokens import TokenCodec

log = structlog.get_logger(__name__)

DESCRIPTION = """
Sales pipeline service: leads, accounts and contacts, opportunities moving through
pipeline stages, stage analytics, quotes and feedback.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Lists use cursor
pagination (`limit`, `cursor` -> `next_cursor`). Authenticate with **Authorize** (email and
password) or send `Authorization: Bearer <token or API key>`.
"""


def operation_id(route: APIRoute) -> str:
    """`{tag}-{name}`, so generated clients read well (e.g. `opportunities-transition`)."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}".replace("_", "-")


async def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    log.info("embedded_postgres_starting", data_dir=str(settings.data_dir))
    return await embedded.prepare_embedded(settings.data_dir)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    owns_db = app.state.db is None
    if owns_db:
        url = await resolve_database_url(settings)
        if settings.migrate_on_start:
            await upgrade_to_head_async(url)
        app.state.db = Database(url, settings)
    _tune_gc()
    log.info("started", embedded=settings.embedded)
    try:
        yield
    finally:
        if owns_db:
            await app.state.db.dispose()
        log.info("stopped")


def _tune_gc() -> None:
    """Start-up objects (routes, models, compiled schemas) never die: freeze them out of
    the collector's scans, and collect the young generation less often. A request
    allocates many short-lived objects; the default threshold (700) runs a gen-0 pass
    every few requests for little gain."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="Sales Pipeline API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        openapi_tags=[
            {"name": "operations", "description": "Health, readiness and metrics"},
        ],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.tokens = TokenCodec(settings)
    app.state.api_key_authenticator = ApiKeyAuthenticator(settings)

    install_error_handlers(app, retry_after_s=settings.retry_after_s)
    app.add_exception_handler(idempotency.Replay, idempotency.replay_response)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    mount_routes(app)
    install_docs(app)
    _finish_openapi(app)
    return app


IDEMPOTENCY_HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (e.g. a UUID). A retry with the same key and body within 24 h "
    "returns the first response (header `Idempotent-Replayed: true`) instead of acting twice.",
    "schema": {"type": "string", "maxLength": 255},
}


def _finish_openapi(app: FastAPI) -> None:
    """Put the Problem schema in components so every `responses` entry can refer to it, and
    document Idempotency-Key on every POST of the API."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in problem.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["Problem"] = problem
        for path, item in schema.get("paths", {}).items():
            if path.startswith("/v1/") and "post" in item and item["post"].get("x-idempotency-key") != "ignored":
                item["post"].setdefault("parameters", []).append(IDEMPOTENCY_HEADER_DOC)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
