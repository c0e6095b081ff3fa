"""Where the test suite gets its PostgreSQL: TEST_DATABASE_URL when set, else an embedded
server under .data/test-postgres. Each run makes its own database, migrated by Alembic
(never create_all), and drops it at the end, so parallel runs never meet."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core import embedded
from app.core.ids import new_id

ROOT = Path(__file__).resolve().parents[2]


class TestEnvironment(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")
    test_database_url: str | None = None


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even if a loop exists in this thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def server_url() -> str:
    """A URL of the server to test on, pointing at no database in particular."""
    configured = TestEnvironment().test_database_url
    if configured:
        return configured.replace("postgresql+asyncpg://", "postgresql://")
    return embedded.start_embedded_postgres(ROOT / ".data" / "test-postgres")


def create_test_database(server: str) -> tuple[str, str]:
    name = f"crm_test_{new_id().hex[-12:]}"
    run_sync(embedded.ensure_database(server, name))
    return name, embedded.database_url(server, name)


def drop_test_database(server: str, name: str) -> None:
    run_sync(embedded.drop_database(server, name))


def describe(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname or embedded.socket_dir_of(url)}{parsed.path}"
