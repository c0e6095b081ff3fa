"""Test fixtures on a real PostgreSQL.

Isolation: each test runs inside an outer transaction that is rolled back at the end;
the app's own commits become savepoints (join_transaction_mode="create_savepoint"), so
requests behave as in production but leave nothing behind. Tests that need real commits
(concurrency, outages, a uvicorn process) use `committed_app`, and stay apart from other
tests by working in organisations of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import Database
from app.core.migrations import upgrade_to_head
from app.main import create_app
from tests.support import database as testdb
from tests.support.factories import Tenant, create_tenant


def pytest_report_header(config: pytest.Config) -> str:
    return "database: " + ("TEST_DATABASE_URL" if testdb.TestEnvironment().test_database_url else "embedded PostgreSQL")


@pytest.fixture(scope="session")
def pg_server() -> str:
    return testdb.server_url()


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    name, url = testdb.create_test_database(pg_server)
    upgrade_to_head(url)
    yield url
    testdb.drop_test_database(pg_server, name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        jwt_keys={"test-key": "test-signing-key-with-enough-entropy-0123456789"},
        log_json=True,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url or "", settings)
    yield db
    await db.dispose()


class RollbackDatabase:
    """Looks like Database to the app, but every session joins the test's transaction."""

    def __init__(self, real: Database, connection: AsyncConnection) -> None:
        self.engine = real.engine
        self.url = real.url
        self.sessionmaker = async_sessionmaker(
            bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def connection(database: Database) -> AsyncIterator[AsyncConnection]:
    async with database.engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        finally:
            await trans.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    ) as s:
        yield s


@pytest.fixture
async def client(app: FastAPI, database: Database, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    app.state.db = RollbackDatabase(database, connection)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c
    app.state.db = None


@pytest.fixture
async def tenant(app: FastAPI, session: AsyncSession) -> Tenant:
    return await create_tenant(app, session, "Acme 有限公司")


@pytest.fixture
async def other_tenant(app: FastAPI, session: AsyncSession) -> Tenant:
    return await create_tenant(app, session, "Globex Ltd")


# Real commits: for concurrency and outage tests. Data is kept apart by fresh organisations.
@pytest.fixture
def committed_app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, db=database)


@pytest.fixture
async def committed_client(committed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=committed_app), base_url="http://test") as c:
        yield c


@pytest.fixture
async def committed_tenant(committed_app: FastAPI, database: Database) -> Tenant:
    """An organisation committed for real (not rolled back); its session stays open for
    adding people, each addition committed at once."""
    async with database.sessionmaker() as s:
        tenant = await create_tenant(committed_app, s, "Committed Co")
        await s.commit()
    return tenant
