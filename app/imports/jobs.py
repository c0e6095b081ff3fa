"""The import job: one resource for every kind (leads, accounts, contacts).

Queued by an upload (`enqueue`, the file kept in the row until processed) or started by
`crm import` (`start_direct`, the file read locally); claimed by any worker with
`FOR UPDATE SKIP LOCKED`; processed by its kind's handler, which only parses and writes
rows; finished or failed here, with `<kind>_import.queued|completed|failed` events. The
handlers: `app.leads.importer` (leads) and `app.accounts.importer` (accounts, contacts).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.audit import AuditAction, record_audit
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.identity.principal import Principal
from app.imports.csvfile import InvalidCsv, check_content_type, decode, first_row
from app.leads.models import (
    ImportKind,
    ImportStatus,
    LeadImport,
    LeadImportError,
    LeadSource,
)

log = structlog.get_logger(__name__)

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class KindInfo:
    domain: str  # permission domain (principal.require)
    entity: str  # audit entity type and event prefix: lead_import -> lead_import.completed
    noun: str  # "lead": messages, route names
    path: str  # the resource collection under /v1
    handler: str  # "module" or "module:attribute", loaded on first use (no import cycle)
    needs_owner: bool  # every record has an owner (accounts, contacts): rows without one need a default
    # Links and de-duplicates against every owner's records (accounts, contacts): only for
    # principals who see the whole organisation, admins and API keys, as the API's own
    # visibility rules would otherwise be sidestepped row by row.
    org_wide: bool = False


KINDS: dict[ImportKind, KindInfo] = {
    ImportKind.leads: KindInfo("leads", "lead_import", "lead", "/v1/lead-imports", "app.leads.importer", False),
    ImportKind.accounts: KindInfo("accounts", "account_import", "account", "/v1/account-imports",
                                  "app.accounts.importer:ACCOUNTS", True, org_wide=True),
    ImportKind.contacts: KindInfo("accounts", "contact_import", "contact", "/v1/contact-imports",
                                  "app.accounts.importer:CONTACTS", True, org_wide=True),
}


class Handler(Protocol):
    """What a kind provides: its columns, the header check, and the processing of a claimed job."""
    COLUMNS: tuple[str, ...]

    def header_index(self, header: list[str]) -> tuple[int | None, ...]: ...

    async def process(self, sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, content: bytes, *,
                      on_progress: ProgressFn | None = None, chunk_rows: int = ...) -> LeadImport: ...


@cache
def handler(kind: ImportKind) -> Handler:
    module, _, attribute = KINDS[kind].handler.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded  # type: ignore[no-any-return]


@dataclass
class ClaimedImport:
    id: uuid.UUID
    org_id: uuid.UUID
    created_by: uuid.UUID | None
    skip_duplicates: bool
    default_source: str
    kind: ImportKind = ImportKind.leads


# ---- the resource ----------------------------------------------------------------------------

async def enqueue(session: AsyncSession, principal: Principal, content: bytes, *, kind: ImportKind = ImportKind.leads,
                  content_type: str | None, filename: str | None, skip_duplicates: bool) -> LeadImport:
    """Check the file (type, encoding, header) and queue it; a bad file is a 422 and no job."""
    info = KINDS[kind]
    principal.require(info.domain, "write")
    if info.org_wide and not (principal.kind == "api_key" or principal.is_admin):
        raise Forbidden(f"Importing {info.noun}s is for admins and API keys: an import links and de-duplicates "
                        "against the whole organisation's records")
    check_content_type(content_type)
    header = first_row(decode(content))
    kind_handler = handler(kind)
    index = kind_handler.header_index(header)
    if info.needs_owner and principal.user_id is None \
            and index[kind_handler.COLUMNS.index("owner_email")] is None:
        raise InvalidCsv(f"Every {info.noun} needs an owner: an API key's import needs an owner_email column")
    filename = filename.replace("\x00", "") if filename else None
    job = LeadImport(org_id=principal.org_id, kind=kind, created_by=principal.actor_id, filename=filename,
                     status=ImportStatus.queued, skip_duplicates=skip_duplicates, content=content,
                     default_source=LeadSource.import_.value)
    session.add(job)
    await session.flush()
    await session.refresh(job)
    await record_audit(session, principal, entity_type=info.entity, entity_id=job.id, action=AuditAction.create,
                       after={"kind": kind.value, "filename": filename, "bytes": len(content),
                              "skip_duplicates": skip_duplicates})
    await record_event(session, org_id=principal.org_id, type=f"{info.entity}.queued", entity_type=info.entity,
                       entity_id=job.id, actor_id=principal.actor_id,
                       payload={"import_id": job.id, "kind": kind.value, "filename": filename, "bytes": len(content)})
    return job


async def get_import(session: AsyncSession, principal: Principal, import_id: uuid.UUID, *,
                     kind: ImportKind = ImportKind.leads) -> LeadImport:
    """One import of the caller's organisation and of this kind (another kind's id is a 404 too)."""
    info = KINDS[kind]
    principal.require(info.domain, "read")
    job = await session.scalar(select(LeadImport).where(LeadImport.id == import_id, LeadImport.org_id == principal.org_id,
                                                        LeadImport.kind == kind))
    if job is None:
        raise NotFound(f"No {info.noun} import with that id")
    return job


async def list_imports(session: AsyncSession, principal: Principal, *, kind: ImportKind = ImportKind.leads,
                       cursor: str | None, limit: int) -> tuple[list[LeadImport], str | None]:
    principal.require(KINDS[kind].domain, "read")
    stmt = keyset_page(select(LeadImport).where(LeadImport.org_id == principal.org_id, LeadImport.kind == kind),
                       [LeadImport.created_at, LeadImport.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


async def list_errors(session: AsyncSession, principal: Principal, import_id: uuid.UUID, *,
                      kind: ImportKind = ImportKind.leads, cursor: str | None,
                      limit: int) -> tuple[list[LeadImportError], str | None]:
    job = await get_import(session, principal, import_id, kind=kind)
    stmt = keyset_page(select(LeadImportError).where(LeadImportError.import_id == job.id,
                                                     LeadImportError.org_id == principal.org_id),
                       [LeadImportError.row_number], cursor=cursor, limit=limit)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.row_number,))


# ---- processing ------------------------------------------------------------------------------

async def claim_next(sessionmaker: async_sessionmaker[AsyncSession], *,
                     import_id: uuid.UUID | None = None) -> tuple[ClaimedImport, bytes] | None:
    """Take the oldest queued import of any kind, or the given one (any number of workers: SKIP LOCKED)."""
    async with sessionmaker() as session, session.begin():
        candidates = select(LeadImport.id).where(LeadImport.status == ImportStatus.queued)
        if import_id is not None:
            candidates = candidates.where(LeadImport.id == import_id)
        next_id = candidates.order_by(LeadImport.created_at) \
            .limit(1).with_for_update(skip_locked=True).scalar_subquery()
        row = (await session.execute(
            update(LeadImport).where(LeadImport.id == next_id)
            .values(status=ImportStatus.running, started_at=func.now(), updated_at=func.now())
            .returning(LeadImport.id, LeadImport.org_id, LeadImport.created_by, LeadImport.skip_duplicates,
                       LeadImport.default_source, LeadImport.kind, LeadImport.content)
        )).first()
    if row is None:
        return None
    return ClaimedImport(*row[:6]), row[6] or b""


async def start_direct(sessionmaker: async_sessionmaker[AsyncSession], *, org_id: uuid.UUID, created_by: uuid.UUID | None,
                       filename: str | None, skip_duplicates: bool, kind: ImportKind = ImportKind.leads) -> ClaimedImport:
    """For `crm import`: a running import whose file is read locally, never stored."""
    async with sessionmaker() as session, session.begin():
        job = LeadImport(org_id=org_id, kind=kind, created_by=created_by, filename=filename, status=ImportStatus.running,
                         skip_duplicates=skip_duplicates, default_source=LeadSource.import_.value, started_at=utcnow())
        session.add(job)
        await session.flush()
        return ClaimedImport(job.id, org_id, created_by, skip_duplicates, job.default_source, kind)


async def process(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, content: bytes, *,
                  on_progress: ProgressFn | None = None, chunk_rows: int | None = None) -> LeadImport:
    """Run a claimed (or directly started) import through its kind's handler."""
    extra: dict[str, Any] = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    return await handler(job.kind).process(sessionmaker, job, content, on_progress=on_progress, **extra)


async def finish(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, *, total: int) -> LeadImport:
    async with sessionmaker() as session, session.begin():
        done = (await session.execute(
            update(LeadImport).where(LeadImport.id == job.id)
            .values(status=ImportStatus.completed, total_rows=total, finished_at=func.now(), content=None)
            .returning(LeadImport)
        )).scalar_one()
        entity = KINDS[job.kind].entity
        await record_event(session, org_id=job.org_id, type=f"{entity}.completed", entity_type=entity,
                           entity_id=job.id, actor_id=job.created_by, payload={
                               "import_id": job.id, "kind": job.kind.value, "total_rows": total,
                               "created": done.created_count, "duplicates": done.duplicate_count,
                               "errors": done.error_count})
        return done


async def fail(sessionmaker: async_sessionmaker[AsyncSession], job: ClaimedImport, exc: Exception) -> LeadImport:
    """Mark the import failed (rows of committed chunks stay imported) and say why."""
    log.warning("import_failed", import_id=str(job.id), kind=job.kind.value, exc_info=exc)
    # The resource shows our own problems verbatim, never SQL or internals.
    reason = getattr(exc, "detail", None) or \
        f"Unexpected error ({type(exc).__name__}); the rows of the failed chunk were not imported"
    entity = KINDS[job.kind].entity
    async with sessionmaker() as session, session.begin():
        await session.execute(update(LeadImport).where(LeadImport.id == job.id).values(
            status=ImportStatus.failed, failure=reason[:2000], finished_at=func.now(), content=None))
        await record_event(session, org_id=job.org_id, type=f"{entity}.failed", entity_type=entity,
                           entity_id=job.id, actor_id=job.created_by,
                           payload={"import_id": job.id, "kind": job.kind.value, "error": reason[:500]})
    async with sessionmaker() as session:
        failed = await session.get(LeadImport, job.id)
        assert failed is not None
        return failed


async def run_queued_imports(session: AsyncSession, settings: Any) -> int:
    """Worker job: process queued imports of every kind, one after another, each in its own transactions."""
    maker = async_sessionmaker(bind=session.bind, expire_on_commit=False, autoflush=False)
    handled = 0
    while (claimed := await claim_next(maker)) is not None:
        job, content = claimed
        await process(maker, job, content)
        handled += 1
    return handled
