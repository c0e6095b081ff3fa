"""Cursor (keyset) pagination: opaque cursors, a bounded limit, a stable order with the
id as the last sort key, so pages never skip or repeat rows while data changes."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from app.core.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

LimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT})")
]
CursorParam = Annotated[
    str | None, Query(max_length=1024, description="Opaque cursor from a previous page's next_cursor")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page")


class InvalidCursor(BadRequest):
    code, title = "invalid-cursor", "Invalid cursor"


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([str(v) if isinstance(v, (Decimal, uuid.UUID)) else v for v in values], default=str)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, columns: Sequence[ColumnElement[Any]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong arity")
        return [_parse(value, col) for value, col in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, orjson.JSONDecodeError, ArithmeticError) as exc:
        raise InvalidCursor("The cursor is malformed or belongs to another listing") from exc


def _parse(value: Any, column: ColumnElement[Any]) -> Any:
    if value is None:
        return None
    py = column.type.python_type
    if py is uuid.UUID:
        return uuid.UUID(value)
    if py is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    if py is dt.date:
        return dt.date.fromisoformat(value)
    if py is Decimal:
        return Decimal(value)
    if py is int:
        if not isinstance(value, int):
            raise ValueError("not an int")
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def keyset_page(
    stmt: Select[Any],
    columns: Sequence[ColumnElement[Any]],
    *,
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> Select[Any]:
    """Order `stmt` by `columns` (the last must be unique, normally the id), start after
    the cursor and fetch one row more than `limit` to know whether a next page exists."""
    if cursor:
        values = decode_cursor(cursor, columns)
        key = tuple_(*columns)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    order = [c.desc() for c in columns] if descending else list(columns)
    return stmt.order_by(*order).limit(limit + 1)


def page_of(rows: Sequence[T], limit: int, key: Any) -> tuple[list[T], str | None]:
    """Cut the extra row off and make the next cursor from the last row kept.
    `key(row)` returns the row's values of the sort columns."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor
