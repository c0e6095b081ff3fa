"""Bulk CSV import of leads: 100k rows in seconds, with dedupe on.

How (measured in bench/README.md), per chunk of rows, each chunk its own transaction:
1. One tight Python pass (`RowParser`, in a forked worker process one chunk ahead of the
   database): csv module, normalise email/phone/company (phone via the compiled fast
   path, company names memoised), per-row validation errors, owner from a preloaded map,
   score and grade with the rules' own vocabulary (`scoring.RowScorer`).
2. Duplicates of existing leads and contacts: one query on a connection of its own (while
   the previous chunk is copied in), the chunk's distinct normalised emails and phones as
   `= ANY(array)` on the `(org_id, email|phone_normalized)` indexes.
3. `ChunkPreparer`: repeats of earlier rows of the file (any chunk) by dicts in row order.
4. asyncpg COPY of the surviving rows straight into `lead` (foreign keys checked once per
   chunk, `app/imports/writes.py`) and of the row errors into `lead_import_error`; one
   UPDATE of the import's counters.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import structlog
import uuid_utils
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import get_settings
from app.identity.models import User
from app.identity.owners import acting_user, assignable

# The job itself (queue, claim, finish, fail, the worker job) is shared by every kind of import;
# these names stay importable from here for the lead import's callers.
from app.imports.csvfile import InvalidCsv, open_rows
from app.imports.jobs import (  # noqa: F401
    ClaimedImport,
    ProgressFn,
    claim_next,
    fail,
    run_queued_imports,
    start_direct,
)
from app.imports.jobs import finish as _finish
from app.imports.timing import StepTimings
from app.imports.writes import CheckedCopy, write_chunk
from app.leads.models import LeadImport, LeadSource
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer
from app.leads.scoring import SCORED_FIELDS, RowScorer, row_scorer

log = structlog.get_logger(__name__)

CHUNK_ROWS = 10_000
FIRST_CHUNK_ROWS = 2_000
COLUMNS = ("first_name", "last_name", "email", "phone", "title", "company", "company_size", "region",
           "product_interest", "source", "campaign", "description", "owner_email")
ALIASES = {"owner": "owner_email", "mobile": "phone", "phone_number": "phone", "company_name": "company",
           "firstname": "first_name", "lastname": "last_name", "e-mail": "email", "email_address": "email"}
MAX_LEN = {"first_name": 100, "last_name": 100, "email": 320, "phone": 50, "title": 200, "company": 300,
           "region": 100, "product_interest": 100, "campaign": 200, "description": 20_000, "owner_email": 320}
SOURCES = frozenset(s.value for s in LeadSource)
# A parsed row: row number, error code and message, then the lead's own columns.
# An error-free row also carries its score, grade and breakdown (scored in the parse pass).
ROW_LEAD_COLUMNS = ("id", "first_name", "last_name", "email", "email_normalized", "phone", "phone_normalized",
                    "title", "company", "company_normalized", "company_size", "region", "product_interest",
                    "source", "campaign", "description", "owner_id", "score", "grade", "score_breakdown")
ID, EMAIL_N, PHONE_N = 3, 7, 9  # positions in a parsed row
OWNER = 3 + ROW_LEAD_COLUMNS.index("owner_id")
LEAD_COLUMNS = (*ROW_LEAD_COLUMNS, "org_id", "assigned_at", "import_id", "version", "created_at", "updated_at")
SCORE_POSITIONS = {name: 3 + ROW_LEAD_COLUMNS.index(name) for name in SCORED_FIELDS}
# Matches on the org's leads and contacts, by priority: lead email, lead phone, contact email, contact phone.
# `= ANY(array)` rather than a join to unnest(): whatever the (often stale, mid-import) statistics
# say, the plan stays one pass over an index or the table, never a nested loop per key.
LIVE_OTHER = " AND t.merged_into_id IS NULL AND t.import_id IS DISTINCT FROM $4"  # its own rows: ChunkPreparer
EXISTING_SQL = " UNION ALL ".join(
    f"SELECT {kind} AS kind, t.{key}_normalized, t.id FROM {table} t "
    f"WHERE t.org_id = $1 AND t.{key}_normalized = ANY(${2 if key == 'email' else 3}::text[]){live}"
    for kind, (table, key, live) in enumerate((
        ("lead", "email", LIVE_OTHER), ("lead", "phone", LIVE_OTHER),
        ("contact", "email", ""), ("contact", "phone", "")))
)
EXISTING_LABELS = (("Email", "lead"), ("Phone", "lead"), ("Email", "contact"), ("Phone", "contact"))


TIMINGS = StepTimings()  # bench/ switches it on
_tick = TIMINGS.tick


def header_index(header: list[str]) -> tuple[int | None, ...]:
    names = [ALIASES.get(h.strip().lower().replace(" ", "_"), h.strip().lower().replace(" ", "_")) for h in header]
    index = tuple(names.index(c) if c in names else None for c in COLUMNS)
    if index[COLUMNS.index("last_name")] is None and index[COLUMNS.index("company")] is None \
            and index[COLUMNS.index("first_name")] is None:
        raise InvalidCsv("The header needs at least one of first_name, last_name, company "
                         f"(known columns: {', '.join(COLUMNS)})")
    return index


@lru_cache(maxsize=131072)
def _company(name: str) -> str | None:
    normalized = normalize_company(name)
    return normalized[:300] if normalized else None  # NFKC can lengthen a name past the column


class RowParser:
    """CSV rows -> staging records, fully validated: one tight pass per row (trim, lengths,
    email, phone via the compiled fast path, company name memoised, source, company size,
    owner by email from a preloaded map), so the database only loads, de-duplicates and
    inserts. Row errors are data, not exceptions."""

    def __init__(self, index: tuple[int | None, ...], default_source: str, region: str,
                 owners: dict[str, str] | None = None, score: RowScorer | None = None) -> None:
        present = [(name, i) for name, i in zip(COLUMNS, index, strict=True) if i is not None]
        names = [name for name, _ in present]
        self.idxs = [i for _, i in present]
        self.width = max(self.idxs) + 1
        # Position of each column in the per-row value list; absent ones read the trailing None.
        self.pos = {name: names.index(name) if name in names else -1 for name in COLUMNS}
        self.limits = [(k, name, MAX_LEN[name]) for k, name in enumerate(names) if name in MAX_LEN]
        self.default_source = default_source
        self.phone = phone_normalizer(region)
        self.owners = owners or {}
        self.score = score

    def parse(self, rows: Iterator[list[str]], start: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` rows, laid out as (row number, error code, error message, *ROW_LEAD_COLUMNS);
        a row with an error stops before the score columns (and has them all without a scorer)."""
        out: list[tuple[Any, ...]] = []
        append, width, limits = out.append, self.width, self.limits
        pick = itemgetter(*self.idxs) if len(self.idxs) > 1 else lambda row, i=self.idxs[0]: (row[i],)
        p = self.pos
        pf, pl, pe, pp, pt, pc, ps, pr, pi, pso, pca, pd, po = (p[c] for c in COLUMNS)
        phone_norm, company_norm, owners, default_source = self.phone, _company, self.owners, self.default_source
        score = self.score
        new_uuid = uuid_utils.uuid7
        n = start
        for row in rows:
            n += 1
            if len(row) < width:  # ragged row: pad instead of failing the file
                row = row + [""] * (width - len(row))
            v = [x.strip() or None for x in pick(row)]
            v.append(None)
            error = None
            # Every limit is >= 100 characters: only a row with a long value needs the check.
            for k, name, most in (limits if max(map(len, row)) > 100 else ()):
                if v[k] is not None and len(v[k]) > most:
                    error = ("too_long", f"{name} is longer than {most} characters")
                    break
            first, last, email, phone, company, size, source, owner = v[pf], v[pl], v[pe], v[pp], v[pc], v[ps], v[pso], v[po]
            email_n, ok = normalize_email(email)
            if not ok and error is None:
                error = ("bad_email", f"'{email}' is not a valid email address")
            phone_n, ok = (None, True) if phone is None else phone_norm(phone)
            if not ok and error is None:
                error = ("bad_phone", f"'{phone}' is not a valid phone number")
            size_n = None
            if size is not None:
                if size.isdigit() and len(size) <= 8:
                    size_n = int(size)
                elif error is None:
                    error = ("bad_company_size", f"company_size '{size}' is not a whole number")
            if source is None:
                source = default_source
            else:
                source = source.lower()
                if source not in SOURCES and error is None:
                    error = ("bad_source", f"source '{source}' is not one of {', '.join(sorted(SOURCES))}")
            owner_id = None
            if owner is not None:
                owner = owner.lower()
                owner_id = owners.get(owner)
                if owner_id is None and error is None:
                    error = ("unknown_owner", f"No active user with email {owner} that the importer may assign leads to")
            if first is None and last is None and company is None and error is None:
                error = ("missing_name", "a lead needs a name or a company")
            # The id as text: cheap to hand over from a worker process, and asyncpg encodes it as uuid.
            rec = (n, error[0] if error else None, error[1] if error else None, str(new_uuid()), first, last, email,
                   email_n, phone, phone_n, v[pt], company, company_norm(company) if company else None, size_n,
                   v[pr], v[pi], source, v[pca], v[pd], owner_id)
            append(rec + score(rec) if score is not None and error is None else rec)
            if len(out) >= limit:
                break
        return out


async def process(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, content: bytes, *,
                  on_progress: ProgressFn | None = None, chunk_rows: int = CHUNK_ROWS) -> LeadImport:
    try:
        reader, index, estimate = open_rows(content, header_index)
        # One import per organisation at a time, for the whole import (a transaction of its own
        # holds the lock): rows repeated across chunks are found in Python, not in the table.
        async with sessionmaker() as guard, guard.begin():
            await guard.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('lead_import:' || :org, 0))"),
                                {"org": str(job.org_id)})
            done = await _pipeline(sessionmaker, job, reader, index, estimate, chunk_rows, on_progress)
        return await _finish(sessionmaker, job, total=done)
    except Exception as exc:
        return await fail(sessionmaker, job, exc)


async def _pipeline(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, reader: Iterator[list[str]],
                    index: tuple[int | None, ...], estimate: int, chunk_rows: int, on_progress: ProgressFn | None) -> int:
    """Chunk after chunk, each written in its own transaction (progress is visible); the rows
    processed. Three things overlap: a worker process parses and scores the next chunk
    (`ChunkSource`), a second connection looks up that chunk's existing duplicates, while
    this one dedupes and COPYs the current chunk."""
    async with sessionmaker() as session, session.begin():
        # owner_email follows the owner rule of the importing user (a rep only themselves,
        # a manager their team subtree); an API key's or the CLI's import, the whole org.
        importer = await acting_user(session, job.org_id, job.created_by)
        owners = {email.lower(): str(uid) for email, uid in (await session.execute(
            select(User.email, User.id).where(assignable(importer)))).all()}
        # Rules and thresholds as they are when the import starts, for every chunk.
        score = await row_scorer(session, job.org_id, SCORE_POSITIONS)
        await session.execute(update(LeadImport).where(LeadImport.id == job.id).values(total_rows=estimate))
        copy = await CheckedCopy.prepare(await _raw(session), "lead", LEAD_COLUMNS)
    prepare = ChunkPreparer(job)
    parser = RowParser(index, job.default_source, get_settings().default_phone_region, owners, score)
    # Sessions bound to one connection (the tests' savepoints) cannot run two statements at
    # once: then the lookups and the writes take turns.
    shared = isinstance(sessionmaker.kw.get("bind"), AsyncConnection)
    done = 0
    async with ChunkSource(parser, reader, chunk_rows) as source:
        records = await source.next()
        matching = asyncio.create_task(_lookup(sessionmaker, prepare, records))
        while records:
            writing = asyncio.create_task(_write_chunk(sessionmaker, job, prepare, copy, records, matching))
            try:
                following = await source.next()
                if shared:
                    await writing
                matching = asyncio.create_task(_lookup(sessionmaker, prepare, following))
                await writing
            except BaseException:
                for task in (writing, matching):
                    task.cancel()
                await asyncio.gather(writing, matching, return_exceptions=True)
                raise
            done += len(records)
            if on_progress:
                on_progress(done, max(done, estimate))
            records = following
        await matching
    return done


async def _write_chunk(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, prepare: ChunkPreparer,
                       copy: CheckedCopy, records: list[tuple[Any, ...]], matching: asyncio.Task[list[Any]]) -> None:
    started = time.perf_counter()
    matches = await matching
    t = _tick("waiting for existing-duplicates query", started)
    async with sessionmaker() as session, session.begin():
        raw = await _raw(session)
        now = await raw.fetchval("SELECT now()")
        t = time.perf_counter()
        batch = prepare(records, matches, now)
        t = _tick("dedupe", t)
        await write_chunk(raw, job, copy, batch.leads, batch.errors, duplicates=batch.duplicates, rows=batch.rows)
        _tick("copy+errors+progress", t)
    _tick("chunk total", started)


async def _lookup(sessionmaker: async_sessionmaker[AsyncSession], prepare: ChunkPreparer,
                  records: list[tuple[Any, ...]]) -> list[Any]:
    """`_matches` in a session of its own, so it can run while another chunk is written."""
    if not records or not prepare.job.skip_duplicates:
        return []
    async with sessionmaker() as session, session.begin():
        return await _matches(await _raw(session, custom_plans=True), prepare, records)


_FORK = "fork" in multiprocessing.get_all_start_methods()
_SOURCE: tuple[RowParser, Iterator[list[str]]] | None = None  # in the worker process


def _source_init(parser: RowParser, reader: Iterator[list[str]]) -> None:
    global _SOURCE
    _SOURCE = (parser, reader)


def _source_next(start: int, limit: int) -> list[tuple[Any, ...]]:
    assert _SOURCE is not None
    parser, reader = _SOURCE
    return parser.parse(reader, start, limit)


class ChunkSource:
    """Parsed and scored chunks, the next one always under way. In a forked worker process
    where the platform forks (the parse pass is pure Python and would hold the GIL the
    event loop needs to drive the COPY); else in a thread."""

    def __init__(self, parser: RowParser, reader: Iterator[list[str]], chunk_rows: int) -> None:
        self.parser, self.reader, self.limit = parser, reader, chunk_rows
        self.pool: concurrent.futures.Executor | None = None
        self.pending: asyncio.Future[list[tuple[Any, ...]]] | None = None
        self.start = 0

    async def __aenter__(self) -> ChunkSource:
        if _FORK:
            # The child inherits the parser (scoring rules, owners) and the reader as they are.
            self.pool = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("fork"), initializer=_source_init,
                initargs=(self.parser, self.reader))
        self._submit()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self) -> None:
        loop = asyncio.get_running_loop()
        # A short first chunk: the database starts writing sooner.
        limit = min(self.limit, FIRST_CHUNK_ROWS) if self.start == 0 else self.limit
        if self.pool is not None:
            self.pending = loop.run_in_executor(self.pool, _source_next, self.start, limit)
        else:
            self.pending = asyncio.ensure_future(asyncio.to_thread(self.parser.parse, self.reader, self.start, limit))

    async def next(self) -> list[tuple[Any, ...]]:
        """The next chunk (empty at the end), and the one after it set under way."""
        assert self.pending is not None
        t = time.perf_counter()
        records = await self.pending
        _tick("waiting for parse", t)
        if records:
            self.start = records[-1][0]
            self._submit()
        return records


async def _raw(session: AsyncSession, *, custom_plans: bool = False) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction: SQLAlchemy's
    adapter sends BEGIN lazily, on its own first statement, so raw statements before one
    would each autocommit (a chunk could half-apply). `custom_plans` for the duplicate
    lookups: a generic plan, chosen on statistics that predate the import, tests
    `= ANY($n)` row by row (app/imports/runner.py has the measurements)."""
    mode = "force_custom_plan" if custom_plans else "auto"
    await session.execute(text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": mode})
    return (await (await session.connection()).get_raw_connection()).driver_connection


@dataclass
class Batch:
    leads: list[tuple[Any, ...]]
    errors: list[tuple[Any, ...]]
    rows: int
    duplicates: int


async def _matches(raw: Any, prepare: ChunkPreparer, records: list[tuple[Any, ...]]) -> list[Any]:
    """The chunk's matches among existing leads and contacts: one query."""
    if not records or not prepare.job.skip_duplicates:
        return []
    t = time.perf_counter()
    emails = list({r[EMAIL_N] for r in records if r[1] is None and r[EMAIL_N] is not None})
    phones = list({r[PHONE_N] for r in records if r[1] is None and r[PHONE_N] is not None})
    matches = await raw.fetch(EXISTING_SQL, prepare.job.org_id, emails, phones, prepare.job.id)
    _tick("existing-duplicates query", t)
    return matches


class ChunkPreparer:
    """Parsed (and scored) rows -> lead and error records, chunk after chunk. Duplicate checks,
    in this order: an existing lead's email, its phone, a contact's email, its phone (`matches`,
    from EXISTING_SQL, which leaves out this import's own leads), then an earlier row of the
    file, in any chunk: its email, else its phone. A repeat's duplicate_of is the lead the
    first row made (None if that row was skipped itself), so the outcome of a row never
    depends on where the chunks split."""

    def __init__(self, job: ClaimedImport) -> None:
        self.job = job
        # normalised email/phone -> (row number, lead id or None) of its first error-free row
        self.first_email: dict[str, tuple[int, Any]] = {}
        self.first_phone: dict[str, tuple[int, Any]] = {}

    def __call__(self, records: list[tuple[Any, ...]], matches: list[Any], now: Any) -> Batch:
        org, import_id, dedupe = self.job.org_id, self.job.id, self.job.skip_duplicates
        existing: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
        for kind, key, found in matches:
            existing[kind].setdefault(key, found)
        lead_email, lead_phone, contact_email, contact_phone = existing
        matched = {*lead_email, *lead_phone, *contact_email, *contact_phone}  # most rows match nothing
        first_email, first_phone = self.first_email, self.first_phone
        leads, errors, duplicates = [], [], 0
        append_lead, append_error = leads.append, errors.append
        tail_owned, tail_unowned = (org, now, import_id, 1, now, now), (org, None, import_id, 1, now, now)
        for r in records:
            if r[1] is not None:
                append_error((import_id, r[0], org, r[1], r[2], None))
                continue
            if dedupe:
                email, phone, dup = r[EMAIL_N], r[PHONE_N], None
                if email in matched or phone in matched:
                    for kind, (found, key) in enumerate(((lead_email, email), (lead_phone, phone),
                                                        (contact_email, email), (contact_phone, phone))):
                        if key is not None and (match := found.get(key)) is not None:
                            label, table = EXISTING_LABELS[kind]
                            dup = (f"{label} matches existing {table} {match}", match)
                            break
                if dup is None:
                    if email is not None and (first := first_email.get(email)) is not None:
                        dup = (f"Email repeats row {first[0]}", first[1])
                    else:
                        if phone is not None and (first := first_phone.get(phone)) is not None:
                            dup = (f"Phone repeats row {first[0]}", first[1])
                        # As the set-based version did: a row's email counts as seen even if its phone repeats.
                        if email is not None:
                            first_email[email] = (r[0], None if dup else r[ID])
                        if dup is None and phone is not None:
                            first_phone[phone] = (r[0], r[ID])
                if dup is not None:
                    append_error((import_id, r[0], org, "duplicate", *dup))
                    duplicates += 1
                    continue
            # assigned_at: now for a row with an owner
            append_lead(r[3:] + (tail_unowned if r[OWNER] is None else tail_owned))
        return Batch(leads, errors, len(records), duplicates)
