"""Hot single-row reads straight on asyncpg, for the reads clients repeat most (a record
by id).

Why: on the 2-core development machine SQLAlchemy's async pool checkout and execution
wrapper cost about 200 µs of CPU per statement (the same SELECT: ~440 µs through an
`AsyncConnection`, ~240 µs on a plain asyncpg pool), a fifth of a cached GET by id.
Such reads already use a statement built once per principal (`lru_cache`), so it is
compiled once more here, to PostgreSQL's own SQL with `$n` parameters, and runs on a small
asyncpg pool of its own. Everything else keeps SQLAlchemy.

Rows are plain mappings of driver values: enums as their string values (the JSON the API
writes is the same), json/jsonb decoded. Statements whose parameters need SQLAlchemy's
bind processing are refused at compile time rather than sent wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Compiled
from sqlalchemy.sql import Executable

from app.core.embedded import connect_args

_DIALECT = PGDialect_asyncpg()
LOST_CONNECTION = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError and friends
    asyncpg.AdminShutdownError,  # the backend was terminated
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.InternalClientError,  # a termination notice raced the next query
    ConnectionError,
)


@lru_cache(maxsize=8192)
def _compiled(stmt: Executable) -> Compiled:
    """Statements are cached by identity, like the lru-cached statements they come from."""
    compiled = stmt.compile(dialect=_DIALECT)
    if compiled._bind_processors:  # e.g. an Enum-typed parameter: SQLAlchemy must convert it
        raise ValueError("hot reads take only parameters asyncpg sends as they are")
    return compiled


async def _decode_json(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(),
                                  decoder=orjson.loads)


async def _fetchrow(pool: asyncpg.Pool, gate: asyncio.Semaphore, sql: str, args: list[Any]) -> asyncpg.Record | None:
    # The gate makes waiting for a connection first come, first served. asyncpg's pool
    # waits on an asyncio.Queue, which is not fair: a request arriving just as a connection
    # is released takes it, and the waiter woken for it goes to the back of the line again.
    # With more requests than connections that was most of the p99 of a read (bench/README.md).
    # asyncio.Semaphore (3.11+) hands each release to the longest waiter; with as many
    # permits as connections, a permit always finds a free connection.
    async with gate, pool.acquire() as conn:
        return await conn.fetchrow(sql, *args)


@dataclass
class HotReadPool:
    """A lazily opened asyncpg pool with the same session settings as the engine."""

    url: str
    max_size: int
    server_settings: dict[str, str]
    _pool: asyncpg.Pool | None = None
    _lock: asyncio.Lock | None = None
    _gate: asyncio.Semaphore | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    self._gate = asyncio.Semaphore(self.max_size)
                    self._pool = await asyncpg.create_pool(
                        **connect_args(self.url), min_size=1, max_size=self.max_size,
                        server_settings=self.server_settings, init=_decode_json,
                    )
        return self._pool

    async def fetch_one(self, stmt: Executable, params: Mapping[str, Any]) -> asyncpg.Record | None:
        compiled = _compiled(stmt)
        values = compiled.construct_params(params)
        args = [values[name] for name in compiled.positiontup or ()]
        pool = await self.pool()
        assert self._gate is not None
        try:
            return await _fetchrow(pool, self._gate, compiled.string, args)
        except LOST_CONNECTION:
            # The server dropped this pooled connection (restart, failover, an idle
            # connection killed; the pool replaces it): a read is safe to repeat once.
            return await _fetchrow(pool, self._gate, compiled.string, args)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
