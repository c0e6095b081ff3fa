"""`crm import leads|accounts|contacts FILE.csv`: the bulk import from the command line,
with a progress bar and a summary table.

Runs the same pipeline as the API's background job (app/imports), reading the file
locally instead of storing it, and leaves the same import resource behind (counts and
per-row errors readable at /v1/<kind>-imports/{id}).
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

from app.leads.models import ImportKind

import_app = typer.Typer(help="Bulk imports", no_args_is_help=True)
console = Console(stderr=True)

File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="UTF-8 CSV with a header row")]
OrgOption = Annotated[str, typer.Option(help="Organisation id or exact name")]
AsOption = Annotated[str | None, typer.Option("--as", help="Email of the importing user (creator, and owner of rows "
                                                             "without owner_email)")]


@import_app.command("leads")
def import_leads(file: File, org: OrgOption, user: AsOption = None,
                 allow_duplicates: Annotated[bool, typer.Option(help="Import rows matching existing leads/contacts")] = False,
                 ) -> None:
    """Import leads from a CSV file (columns as for POST /v1/lead-imports)."""
    run_import(ImportKind.leads, file, org, user, allow_duplicates)


@import_app.command("accounts")
def import_accounts(file: File, org: OrgOption, user: AsOption = None,
                    allow_duplicates: Annotated[bool, typer.Option(help="Import rows whose name matches an existing "
                                                                        "account")] = False) -> None:
    """Import accounts from a CSV file (columns as for POST /v1/account-imports)."""
    run_import(ImportKind.accounts, file, org, user, allow_duplicates)


@import_app.command("contacts")
def import_contacts(file: File, org: OrgOption, user: AsOption = None,
                    allow_duplicates: Annotated[bool, typer.Option(help="Import rows whose email/phone matches an "
                                                                        "existing contact")] = False) -> None:
    """Import contacts from a CSV file (columns as for POST /v1/contact-imports)."""
    run_import(ImportKind.contacts, file, org, user, allow_duplicates)


def run_import(kind: ImportKind, file: Path, org: str, user: str | None, allow_duplicates: bool) -> None:
    from app.cli import _database_url
    from app.core.config import get_settings
    from app.core.db import Database
    from app.identity.models import Org, User
    from app.imports import jobs
    from app.imports.csvfile import InvalidCsv, decode, first_row

    settings = get_settings()
    url = _database_url(settings)
    content = file.read_bytes()
    info = jobs.KINDS[kind]
    try:  # a file the API would refuse is refused here too, before a job exists
        index = jobs.handler(kind).header_index(first_row(decode(content)))
    except InvalidCsv as exc:
        raise typer.BadParameter(exc.detail, param_hint="FILE") from None
    if info.needs_owner and user is None and index[jobs.handler(kind).COLUMNS.index("owner_email")] is None:
        raise typer.BadParameter(f"every {info.noun} needs an owner: give --as or an owner_email column",
                                 param_hint="--as")

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
            job = await jobs.start_direct(db.sessionmaker, org_id=org_id, created_by=creator, filename=file.name,
                                          skip_duplicates=not allow_duplicates, kind=kind)
            with Progress(TextColumn(f"[bold]Importing {kind.value}[/] " + file.name), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("rows", total=None)
                done = await jobs.process(db.sessionmaker, job, content,
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
                console.print(f"Skipped rows and reasons: GET {info.path}/{done.id}/errors")
        finally:
            await db.dispose()

    asyncio.run(go())
