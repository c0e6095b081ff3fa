"""Fast JSON responses: endpoints on hot paths build plain dicts and return them as
bytes through orjson, skipping FastAPI's second validation/serialisation pass (the
response model still documents the shape in OpenAPI)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):  # money stays exact: a decimal string
        return str(value)
    if isinstance(value, uuid.UUID):  # asyncpg's UUID subclass is not native to orjson
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default)


class FastJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> FastJSONResponse:
    return FastJSONResponse(content, status_code=status_code, headers=headers)
