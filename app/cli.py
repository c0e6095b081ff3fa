"""The `crm` command: serve, migrate, worker, openapi, seed-demo."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from app.core import embedded
from app.core.config import Settings, get_settings
from app.core.migrations import upgrade_to_head

cli = typer.Typer(help="Sales pipeline service", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


def _database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started here, stopped when we exit)."""
    if settings.database_url:
        return settings.database_url
    with console.status(f"Starting embedded PostgreSQL in {settings.data_dir}/postgres ..."):
        return asyncio.run(embedded.prepare_embedded(settings.data_dir))


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo organisation first if it is missing")] = False,
) -> None:
    """Run the API server (uvicorn). Without DATABASE_URL it runs on the embedded PostgreSQL."""
    settings = get_settings()
    url = _database_url(settings)
    if settings.migrate_on_start:
        with console.status("Applying migrations ..."):
            upgrade_to_head(url)
    if demo:
        _seed_demo(url, settings, only_if_missing=True)
    # Worker processes are handed the resolved database and do not migrate again.
    os.environ["DATABASE_URL"] = url
    os.environ["CRM_RUN_MIGRATIONS_ON_START"] = "false"
    console.print(f"[bold green]Serving[/] on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal; exiting
    # normally on it lets atexit stop the embedded PostgreSQL we started.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers,
        log_config=None, timeout_graceful_shutdown=20, proxy_headers=True,
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@cli.command()
def migrate() -> None:
    """Apply all database migrations (Alembic upgrade head)."""
    settings = get_settings()
    url = _database_url(settings)
    with console.status("Applying migrations ..."):
        upgrade_to_head(url)
    console.print("[green]Database is at the latest migration.[/]")


@cli.command()
def worker(
    poll_interval: Annotated[float, typer.Option(help="Seconds between polls")] = 1.0,
    once: Annotated[bool, typer.Option(help="Run one round and exit")] = False,
) -> None:
    """Run background jobs (scheduled checks; webhook delivery lands with its issue)."""
    from app.worker import run_worker

    settings = get_settings()
    url = _database_url(settings)
    asyncio.run(run_worker(url, settings, poll_interval=poll_interval, once=once, console=console))


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the contract")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI contract (checked in; the tests fail when it is stale)."""
    from app.main import create_app

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(create_app(Settings(database_url="postgresql://unused/unused"))))
    console.print(f"[green]Wrote {output}[/]")


def render_openapi(app) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@cli.command("create-org")
def create_org_command(
    name: Annotated[str, typer.Argument(help="The organisation's name")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="Email of its first admin (the login name)")],
    admin_password: Annotated[
        str | None, typer.Option("--admin-password", help="At least 10 characters; generated and printed if omitted")
    ] = None,
) -> None:
    """Bootstrap a tenant: the organisation and its first admin user."""
    from app.core.db import Database
    from app.core.errors import DomainError
    from app.identity.service import create_org

    settings = get_settings()
    url = _database_url(settings)
    with console.status("Applying migrations ..."):
        upgrade_to_head(url)

    async def go() -> tuple[str, str, str | None]:
        db = Database(url, settings)
        try:
            async with db.sessionmaker() as session, session.begin():
                org, admin, generated = await create_org(
                    session, name=name, admin_email=admin_email, admin_password=admin_password
                )
                return str(org.id), admin.email, generated
        finally:
            await db.dispose()

    try:
        org_id, email, generated = asyncio.run(go())
    except DomainError as exc:
        console.print(f"[red]Cannot create the organisation:[/] {exc.detail or exc.title}")
        raise typer.Exit(1) from None
    console.print(f"[green]Organisation created[/] (id {org_id}). Sign in as [bold]{email}[/].")
    if generated:
        console.print("Generated admin password (shown once, store it now):")
        print(generated)  # stdout, so scripts can capture it


@cli.command("seed-demo")
def seed_demo() -> None:
    """Create the demo organisation (teams, users and every domain's demo data)."""
    settings = get_settings()
    url = _database_url(settings)
    with console.status("Applying migrations ..."):
        upgrade_to_head(url)
    _seed_demo(url, settings, only_if_missing=False)


def _seed_demo(url: str, settings: Settings, *, only_if_missing: bool) -> None:
    from app.core.db import Database
    from app.seed import demo_exists
    from app.seed import seed_demo as run_seed

    async def go() -> None:
        db = Database(url, settings)
        try:
            async with db.sessionmaker() as session, session.begin():
                if only_if_missing and await demo_exists(session):
                    console.print("Demo organisation already present.")
                    return
                with console.status("Creating demo data ..."):
                    demo = await run_seed(session)
            console.print(
                f"[green]Demo organisation ready.[/] Sign in as [bold]{demo.admin_email}[/] "
                f"with password [bold]{demo.password}[/] (other users: rep.chen@demo.example, "
                "east.manager@demo.example, ...; same password)."
            )
        finally:
            await db.dispose()

    asyncio.run(go())


from app.imports.cli import import_app  # noqa: E402

cli.add_typer(import_app, name="import")


def main() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cli()


if __name__ == "__main__":
    main()
