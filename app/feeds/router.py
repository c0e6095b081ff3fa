"""GET /v1/audit-log and GET /v1/events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.core.db import SessionDep
from app.core.errors import Unprocessable
from app.core.pagination import CursorParam, LimitParam, Page
from app.core.timeinput import aware_in_range
from app.feeds import service
from app.feeds.schemas import AuditEntryOut, EventOut, EventPage
from app.identity.auth import CurrentPrincipal

router = APIRouter(tags=["feeds"])

# ISO 8601 with a zone, checked by pattern: a plain datetime parameter would also take
# "0.5" as a Unix time.
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"


def TimeQuery(description: str) -> Any:  # noqa: N802 (reads like Query)
    return Query(pattern=ISO_TIME, max_length=40, description=description, examples=["2026-11-23T08:00:00Z"])


def parse_time(name: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Unprocessable(f"{name} is not a valid time", errors=[
            {"loc": ["query", name], "msg": "invalid ISO 8601 time", "type": "datetime_parsing"}]) from None
    try:
        return aware_in_range(parsed)
    except ValueError as exc:
        raise Unprocessable(f"{name} is out of range", errors=[
            {"loc": ["query", name], "msg": str(exc), "type": "value_error"}]) from None


@router.get("/audit-log", response_model=Page[AuditEntryOut], summary="Read the audit trail")
async def list_audit_log(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
    entity_type: Annotated[str | None, Query(max_length=50, examples=["user"])] = None,
    entity_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    since: Annotated[str | None, TimeQuery(description="From this time (inclusive), ISO 8601 with zone")] = None,
    until: Annotated[str | None, TimeQuery(description="Before this time (exclusive), ISO 8601 with zone")] = None,
) -> Page[AuditEntryOut]:
    """Newest first. Admins see the organisation; managers see what they and their team
    subtree did."""
    rows, next_cursor = await service.list_audit_entries(
        session, principal, entity_type=entity_type, entity_id=entity_id, actor_id=actor_id, since=parse_time("since", since),
        until=parse_time("until", until), cursor=cursor, limit=limit,
    )
    return Page(items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=next_cursor)


@router.get("/events", response_model=EventPage, summary="Poll the domain events")
async def list_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="Return events after this sequence number")] = 0,
    limit: LimitParam = 50,
    event_type: Annotated[
        list[str] | None, Query(alias="type", max_length=20, description="Event types, e.g. user.created")
    ] = None,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: uuid.UUID | None = None,
) -> EventPage:
    """Oldest first, by the organisation's gap-free sequence: keep the last `seq` you
    processed and poll with `after_seq`. Events appear only once their change committed."""
    rows, has_more = await service.list_events(
        session, principal, after_seq=after_seq, types=event_type, entity_type=entity_type, entity_id=entity_id,
        limit=limit,
    )
    items = [EventOut.model_validate(r, from_attributes=True) for r in rows]
    return EventPage(items=items, next_after_seq=items[-1].seq if items else after_seq, has_more=has_more)
