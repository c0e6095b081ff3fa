"""`crm import leads FILE.csv`: the bulk import from the command line, with a progress bar.

Runs the same pipeline as the API's background job (app/leads/importer.py), reading the
file locally instead of storing it, and leaves the same lead_import resource behind
(counts and per-row errors readable at /v1/lead-imports/{id}).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import func, or_, select

import_app = typer.Typer(help="Bulk imports", no_args_is_help=True)
console = Console(stderr=True)


@import_app.command("leads")
def import_leads(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="UTF-8 CSV with a header row")],
    org: Annotated[str, typer.Option(help="Organisation id or exact name")],
    user: Annotated[str | None, typer.Option("--as", help="Email of the importing user (recorded as creator)")] = None,
    allow_duplicates: Annotated[bool, typer.Option(help="Import rows matching existing leads/contacts")] = False,
) -> None:
    """Import leads from a CSV file (columns as for POST /v1/lead-imports)."""
    from app.cli import _database_url
    from app.core.config import get_settings
    from app.core.db import Database
    from app.identity.models import Org, User
    from app.leads import importer

    settings = get_settings()
    url = _database_url(settings)
    content = file.read_bytes()

    async def go() -> None:
        db = Database(url, settings)
        try:
            async with db.sessionmaker() as session:
                try:
                    org_filter = or_(Org.id == uuid.UUID(org), Org.name == org)
                except ValueError:
                    org_filter = Org.name == org
                org_id = (await session.execute(select(Org.id).where(org_filter))).scalar_one_or_none()
                if org_id is None:
                    raise typer.BadParameter(f"no organisation {org!r}", param_hint="--org")
                creator = None
                if user:
                    creator = await session.scalar(select(User.id).where(User.org_id == org_id,
                                                                         func.lower(User.email) == user.lower()))
                    if creator is None:
                        raise typer.BadParameter(f"no user {user!r} in that organisation", param_hint="--as")
            job = await importer.start_direct(db.sessionmaker, org_id=org_id, created_by=creator, filename=file.name,
                                              skip_duplicates=not allow_duplicates)
            with Progress(TextColumn("[bold]Importing[/] " + file.name), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("rows", total=None)
                done = await importer.process(db.sessionmaker, job, content,
                                              on_progress=lambda n, total: progress.update(task, completed=n, total=total))
            table = Table(title=f"Import {done.id}")
            for col in ("status", "rows", "created", "duplicates", "errors"):
                table.add_column(col)
            table.add_row(done.status.value, str(done.processed_rows), str(done.created_count),
                          str(done.duplicate_count), str(done.error_count))
            console.print(table)
            if done.failure:
                console.print(f"[red]{done.failure}[/]")
                raise typer.Exit(1)
            if done.duplicate_count or done.error_count:
                console.print(f"Skipped rows and reasons: GET /v1/lead-imports/{done.id}/errors")
        finally:
            await db.dispose()

    asyncio.run(go())
