"""Engine, session and the declarative base.

The transaction belongs to the request: `get_session` opens one session per request,
commits when the endpoint returns normally and rolls back on any error. Services never
commit; they flush when they need ids or constraint checks.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Enum, MetaData, Select, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import Executable

from app.core.config import Settings
from app.core.errors import DomainError, NotFound
from app.core.hot_reads import HotReadPool
from app.core.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def pg_enum(cls: type[enum.Enum], name: str) -> Enum:
    """A PostgreSQL enum type storing the members' values (not their Python names)."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_async_url(url: str) -> str:
    """Accept the usual `postgresql://` spelling and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = to_async_url(url)
        server_settings = {
            "application_name": "crm-pipeline",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "timezone": "UTC",
        }
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
            # No pre-ping (it costs a round trip per request): a dropped connection fails
            # its request with 503 (see errors.py) and SQLAlchemy then replaces the pool.
            pool_recycle=1800,
            connect_args={"server_settings": server_settings},
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # Reads that run one statement need no transaction: in autocommit mode asyncpg
        # sends no BEGIN/ROLLBACK, which saves two of three round trips of a GET.
        self.read_engine: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # Reads by id on the hottest paths skip SQLAlchemy altogether (see hot_reads.py).
        self.hot_reads = HotReadPool(self.url, settings.db_hot_read_pool_size,
                                     {**server_settings, "application_name": "crm-pipeline-hot-reads"})

    async def dispose(self) -> None:
        await self.hot_reads.close()
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            if session.in_transaction():
                await session.rollback()
            raise
        else:
            # Requests that never touched the database skip the commit machinery.
            if session.in_transaction():
                await session.commit()


Reader = HotReadPool | AsyncConnection | AsyncSession


def read_connection(request: Request, *, hot: bool = False) -> AbstractAsyncContextManager[Reader]:
    """For hot single-statement reads: the endpoint opens it itself (`async with`),
    which costs less per request than a generator dependency. `hot=True` hands out the
    asyncpg pool of hot_reads.py, for reads that go through `fetch_one` only."""
    return asynccontextmanager(_reader)(request, hot)


async def get_reader(request: Request) -> AsyncIterator[Reader]:
    async with read_connection(request) as reader:
        yield reader


async def _reader(request: Request, hot: bool) -> AsyncIterator[Reader]:
    """A connection for single-statement reads, outside any transaction. Anything with
    `.execute()` works for Core statements; test doubles that bind every session to
    one connection (no `read_engine`) get a session instead."""
    db = request.app.state.db
    read_engine = getattr(db, "read_engine", None)
    if read_engine is None:
        async with db.sessionmaker() as session:
            yield session
        return
    if hot:
        yield db.hot_reads
        return
    async with read_engine.connect() as conn:
        yield conn


T = TypeVar("T")


async def one_or_404(session: AsyncSession, stmt: Select[tuple[T]], missing: str | DomainError, *,
                     lock: bool = False) -> T:
    """The one row `stmt` selects (locked FOR UPDATE when `lock`), or a 404 problem saying
    `missing`. `stmt` carries the tenant/visibility scope: a row out of scope is simply missing."""
    found = await session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(missing) if isinstance(missing, str) else missing
    return found


async def fetch_one(executor: Reader, stmt: Executable, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """One row of a single-statement read, through whichever executor the caller holds."""
    if isinstance(executor, HotReadPool):
        return await executor.fetch_one(stmt, params)
    return (await executor.execute(stmt, params)).mappings().first()


# Only for endpoints whose read is one statement (a consistent snapshot by itself).
ReaderDep = Annotated[AsyncConnection | AsyncSession, Depends(get_reader)]


# scope="function": commit before the response is sent, so a failed commit is reported
# to the client instead of being lost after a 2xx went out.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
