"""Processing of an import whose kind is a `RowKind` (accounts, contacts): chunk after
chunk, each its own transaction so progress is visible:

1. the kind parses and validates the chunk's rows in Python (row errors are data);
2. `prepare` looks up what the rows refer to and what they duplicate with one or two
   `= ANY(array)` queries per chunk (never a query per row), and sorts the rows into
   records to insert and row errors;
3. asyncpg COPY writes the records into the kind's table (foreign keys checked once per
   chunk, `app/imports/writes.py`) and the errors into lead_import_error; one UPDATE moves
   the job's counters.

One import of a kind per organisation at a time (an advisory lock held for the whole
import), so repeats across chunks are found in Python and two imports of one file never
both insert a row. The lead import has its own, more tuned loop (app/leads/importer.py)."""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.identity.models import User
from app.imports.csvfile import (
    InvalidCsv,
    column_index,
    open_rows,
)
from app.imports.jobs import ClaimedImport, ProgressFn, fail, finish
from app.imports.timing import StepTimings
from app.imports.writes import CheckedCopy, write_chunk
from app.leads.models import LeadImport

CHUNK_ROWS = 5_000
TIMINGS = StepTimings()  # bench/ switches it on
_tick = TIMINGS.tick
Row = list[Any]  # [row number, error code, error message, *the kind's fields]


@dataclass
class Batch:
    records: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[tuple[Any, ...]] = field(default_factory=list)
    duplicates: int = 0


@dataclass
class Context:
    """What every chunk of one import needs: the job, the organisation's active users by
    email, and the owner of rows without owner_email (the importing user, if a user)."""
    job: ClaimedImport
    owners: dict[str, uuid.UUID]
    default_owner: uuid.UUID | None
    # Per import, across chunks: the first row of each key (kind's own use) and the ids of the
    # records this import made (a later chunk's lookup finds them; they are no "existing" match).
    first: dict[str, dict[Any, tuple[int, Any]]] = field(default_factory=dict)
    created: set[Any] = field(default_factory=set)


class RowKind:
    """One kind of record: its CSV columns, its per-row parse and its per-chunk prepare."""
    COLUMNS: ClassVar[tuple[str, ...]]
    ALIASES: ClassVar[dict[str, str]]
    REQUIRED: ClassVar[tuple[str, ...]]
    MAX_LEN: ClassVar[dict[str, int]]
    TABLE: ClassVar[str]
    TABLE_COLUMNS: ClassVar[tuple[str, ...]]

    def header_index(self, header: list[str]) -> tuple[int | None, ...]:
        return column_index(header, self.COLUMNS, self.ALIASES, self.REQUIRED)

    def values(self, index: tuple[int | None, ...], rows: Iterator[list[str]], start: int,
               limit: int) -> Iterator[tuple[int, dict[str, str | None], tuple[str, str] | None]]:
        """Up to `limit` rows as (row number, trimmed values by column, too_long error or None)."""
        present = [(name, i) for name, i in zip(self.COLUMNS, index, strict=True) if i is not None]
        n = start
        for row in rows:
            n += 1
            v = {name: (row[i].strip() or None) if i < len(row) else None for name, i in present}
            too_long = next(((name, most) for name, most in self.MAX_LEN.items()
                             if v.get(name) is not None and len(v[name]) > most), None)  # type: ignore[arg-type]
            yield n, v, (("too_long", f"{too_long[0]} is longer than {too_long[1]} characters") if too_long else None)
            if n - start >= limit:
                return

    def owner(self, ctx: Context, email: str | None) -> tuple[uuid.UUID | None, tuple[str, str] | None]:
        """The owner of a row: owner_email's active user of the organisation, else the default."""
        if email is None:
            if ctx.default_owner is None:
                return None, ("missing_owner", "owner_email is required (the import was not started by a user)")
            return ctx.default_owner, None
        found = ctx.owners.get(email.lower())
        return found, None if found else ("unknown_owner", f"No active user with email {email.lower()}")

    def parse(self, ctx: Context, index: tuple[int | None, ...], rows: Iterator[list[str]], start: int,
              limit: int) -> list[Row]:
        raise NotImplementedError

    async def prepare(self, raw: Any, ctx: Context, rows: list[Row], now: Any) -> Batch:
        raise NotImplementedError

    async def process(self, sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, content: bytes, *,
                      on_progress: ProgressFn | None = None, chunk_rows: int = CHUNK_ROWS) -> LeadImport:
        try:
            reader, index, estimate = open_rows(content, self.header_index)
            async with sessionmaker() as guard, guard.begin():
                await guard.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                                    {"key": f"{job.kind.value}_import:{job.org_id}"})
                done = await self._chunks(sessionmaker, job, reader, index, estimate, chunk_rows, on_progress)
            return await finish(sessionmaker, job, total=done)
        except csv.Error as exc:  # rows of earlier chunks stay imported; say where the file broke
            return await fail(sessionmaker, job, InvalidCsv(f"Unreadable CSV at line {reader.line_num}: {exc}"))
        except Exception as exc:
            return await fail(sessionmaker, job, exc)

    async def _chunks(self, sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport,
                      reader: Iterator[list[str]], index: tuple[int | None, ...], estimate: int, chunk_rows: int,
                      on_progress: ProgressFn | None) -> int:
        async with sessionmaker() as session, session.begin():
            owners = {email.lower(): uid for email, uid in (await session.execute(
                select(User.email, User.id).where(User.org_id == job.org_id, User.is_active))).all()}
            default = job.created_by if job.created_by in owners.values() else None  # an API key is no owner
            await session.execute(update(LeadImport).where(LeadImport.id == job.id).values(total_rows=estimate))
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
            copy = await CheckedCopy.prepare(raw, self.TABLE, self.TABLE_COLUMNS)
        ctx = Context(job, owners, default)
        done = 0
        t = time.perf_counter()
        while rows := self.parse(ctx, index, reader, done, chunk_rows):
            t = _tick("parse", t)
            async with sessionmaker() as session, session.begin():
                # Through SQLAlchemy first: its asyncpg adapter sends BEGIN lazily, on its own first
                # statement, so statements on the raw connection before that would each autocommit.
                # The lookups are prepared statements; a generic plan (chosen after a few chunks on
                # statistics that predate the import) tests `= ANY($n)` row by row against the whole
                # array, a custom plan hashes the array (measured: 2.5-7 s -> ms per 5,000-row chunk).
                # Only for the lookups: the COPY's per-row foreign-key checks are prepared plans too,
                # and re-planning each of them doubled the COPY's time.
                now = (await session.execute(text(
                    "SELECT now(), set_config('plan_cache_mode', 'force_custom_plan', true)"))).scalar_one()
                raw = (await (await session.connection()).get_raw_connection()).driver_connection
                t = _tick("begin", t)
                batch = await self.prepare(raw, ctx, rows, now)
                await raw.execute("SET LOCAL plan_cache_mode TO DEFAULT")
                t = _tick("lookups+dedupe", t)
                await write_chunk(raw, job, copy, batch.records, batch.errors, duplicates=batch.duplicates, rows=len(rows))
                t = _tick("copy+counters", t)
            t = _tick("commit", t)
            done = rows[-1][0]
            if on_progress:
                on_progress(done, max(done, estimate))
        return done

    @staticmethod
    def error(ctx: Context, row: Row, code: str, message: str, duplicate_of: Any = None) -> tuple[Any, ...]:
        return ctx.job.id, row[0], ctx.job.org_id, code, message, duplicate_of
