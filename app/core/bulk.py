"""Set-based writes of many rows (the demo seed): one statement per thousand rows.

The analytics tables are kept by statement-level triggers, so an executemany (a statement
per row) would run them once per row: fifteen times slower for the demo year.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import column, insert, update, values
from sqlalchemy.ext.asyncio import AsyncSession

MAX_PARAMS = 32_000  # asyncpg allows 32,767 bind parameters per statement

async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]], *, chunk: int = 1000) -> None:
    """Multi-row INSERTs of up to `chunk` rows; every row must have the same keys."""
    if not rows:
        return
    table = model.__table__
    chunk = max(1, min(chunk, MAX_PARAMS // len(rows[0])))
    for i in range(0, len(rows), chunk):
        await session.execute(insert(table).values(list(rows[i:i + chunk])))


async def update_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]], *, key: str,
                      where: Any = None) -> None:
    """One UPDATE ... FROM (VALUES ...) setting each row's columns where `key` matches."""
    if not rows:
        return
    table = model.__table__
    names = list(rows[0])
    data = values(*(column(n, table.c[n].type) for n in names), name="v").data(
        [tuple(r[n] for n in names) for r in rows])
    stmt = update(table).where(table.c[key] == data.c[key]).values({n: data.c[n] for n in names if n != key})
    await session.execute(stmt if where is None else stmt.where(where))
