"""The schema comes from Alembic alone, and the models agree with it."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.migrations import alembic_config
from app.models import metadata
from tests.support import database as testdb


async def test_models_and_migrations_agree(connection: AsyncConnection) -> None:
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, metadata)

    assert await connection.run_sync(diff) == []


def test_migrations_downgrade_and_upgrade_cleanly(pg_server: str) -> None:
    name, url = testdb.create_test_database(pg_server)
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
    finally:
        testdb.drop_test_database(pg_server, name)
