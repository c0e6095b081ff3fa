"""One pure-ASGI middleware for what every request needs: a request id, Prometheus
metrics by route template, an access log line, and a bounded request body (413 problem).

Pure ASGI (not BaseHTTPMiddleware) because it sits on the hot path of every request.
"""

from __future__ import annotations

import re
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import idempotency
from app.core.errors import problem_response
from app.core.ids import new_id
from app.core.logging import access_log

REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(HTTPException):
    """Raised while the app reads a body streamed past the limit; an HTTPException so
    FastAPI passes it through to the problem handler as a 413."""

    def __init__(self) -> None:
        super().__init__(413)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or str(new_id())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status_holder = [500]
        rid_header = (b"x-request-id", request_id.encode())
        # Responses to POSTs with an Idempotency-Key are kept to answer retries.
        capture: list[Message] | None = [] if _has_idempotency_key(scope) else None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], rid_header]
            if capture is not None:
                capture.append(message)
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await problem_response(
                    413, "payload-too-large", "Request body too large",
                    f"The body must not exceed {self.max_body_bytes} bytes",
                )(scope, receive, send_wrapper)
            else:
                await self.app(scope, self._limited(receive), send_wrapper)
            if capture is not None:
                await _store_idempotent_response(scope, status_holder[0], capture)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            REQUESTS.labels(method, template, str(status_holder[0])).inc()
            LATENCY.labels(method, template).observe(elapsed)
            access_log.info(
                "request", method=method, path=scope["path"], route=template,
                status=status_holder[0], duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        return wrapped


async def _store_idempotent_response(scope: Scope, status: int, messages: list[Message]) -> None:
    record_id = scope.get("state", {}).get(idempotency.STATE_KEY)
    if record_id is None or status >= 500 or not messages:
        return
    headers = messages[0].get("headers", [])
    body = b"".join(m.get("body", b"") for m in messages[1:])
    try:
        await idempotency.store_response(scope["app"].state.db, record_id, status, headers, body)
    except Exception:  # the change is committed; a retry gets 409 instead of a replay
        access_log.warning("idempotency_store_failed", exc_info=True)


def _has_idempotency_key(scope: Scope) -> bool:
    return scope["method"] == "POST" and any(name == b"idempotency-key" for name, _ in scope["headers"])


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.match(text) else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
