"""Run Alembic from code (the server's start-up in embedded mode, `crm migrate`, tests)."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def project_root() -> Path:
    """The folder holding alembic.ini: the source checkout, else the working directory
    (the Docker image runs from a folder that has both)."""
    source_root = Path(__file__).resolve().parents[2]
    return source_root if (source_root / "alembic.ini").exists() else Path.cwd()


def alembic_config(database_url: str) -> Config:
    root = project_root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_to_head(database_url: str) -> None:
    """Synchronous: Alembic's async env runs its own event loop."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)


@lru_cache
def head_revisions() -> frozenset[str]:
    cfg = alembic_config("postgresql://unused")
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())
