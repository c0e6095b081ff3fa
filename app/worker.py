"""The background worker: a loop of jobs, each claiming its work with
`FOR UPDATE SKIP LOCKED` so any number of workers can run side by side.

Jobs register in JOBS; each gets a fresh session and its own transaction per run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.value import classify_accounts
from app.activities.service import raise_due_tasks
from app.analytics import alerts
from app.core import idempotency
from app.core.config import Settings
from app.core.db import Database
from app.core.logging import configure_logging
from app.identity import auth_service, throttle
from app.imports.jobs import run_queued_imports
from app.leads.jobs import raise_response_overdue
from app.pipelines import stalled

log = structlog.get_logger(__name__)

Job = Callable[[AsyncSession, Settings], Awaitable[int]]
# (name, job): a job returns how many items it handled.
JOBS: list[tuple[str, Job]] = [
    ("idempotency-purge", idempotency.purge_expired),
    ("login-throttle-purge", throttle.purge_expired),
    ("refresh-token-purge", auth_service.purge_expired_refresh_tokens),
    ("opportunity-stalled", stalled.raise_stalled_events),
    ("imports", run_queued_imports),
    ("lead-response-overdue", raise_response_overdue),
    ("task-due", raise_due_tasks),
    ("account-value-classes", classify_accounts),
    ("analytics-alerts", alerts.evaluate_rules),
]


async def run_once(db: Database, settings: Settings) -> dict[str, int]:
    handled: dict[str, int] = {}
    for name, job in JOBS:
        try:
            async with db.sessionmaker() as session, session.begin():
                handled[name] = await job(session, settings)
        except Exception:  # one failing job must not stop the others
            log.exception("job_failed", job=name)
            handled[name] = -1
    return handled


async def run_worker(
    url: str, settings: Settings, *, poll_interval: float, once: bool, console: Console
) -> None:
    configure_logging(settings.log_level, settings.log_json)
    db = Database(url, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with console.status(f"Worker running {len(JOBS)} job(s); Ctrl-C to stop") as status:
            while not stop.is_set():
                handled = await run_once(db, settings)
                status.update(f"Worker running {len(JOBS)} job(s); last round: {handled}")
                if once:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), timeout=poll_interval)
                except TimeoutError:
                    pass
    finally:
        await db.dispose()
        log.info("worker_stopped")
