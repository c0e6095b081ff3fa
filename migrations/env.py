"""Alembic environment, async (asyncpg). Migrations are written by hand and reviewed;
autogenerate is only a helper and the test suite proves models and migrations agree."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.db import to_async_url
from app.models import metadata

config = context.config
if config.config_file_name and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name)


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return to_async_url(url)
    from app.core.config import get_settings

    settings = get_settings()
    if settings.database_url:
        return to_async_url(settings.database_url)
    from app.core import embedded

    return to_async_url(asyncio.run(embedded.prepare_embedded(settings.data_dir)))


def do_run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations(database_url()))
