"""Who may read the feeds, and the queries.

- Audit log: admins (whole organisation) and managers (what they and the people of their
  team subtree did); API keys with `audit:read`. Reps and viewers get 403.
- Events: every event of the organisation carries full record payloads, so only
  principals that may already read the whole organisation get it: admins, viewers, and
  API keys with `events:read`. Managers and reps get 403 (they would see records their
  visibility hides).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEntry
from app.core.errors import Forbidden, Unprocessable
from app.core.events import Event
from app.core.pagination import keyset_page, page_of
from app.identity.models import Role
from app.identity.principal import Principal, visible_owner_clause


async def list_audit_entries(
    session: AsyncSession, principal: Principal, *, entity_type: str | None, entity_id: uuid.UUID | None,
    actor_id: uuid.UUID | None, since: dt.datetime | None, until: dt.datetime | None, cursor: str | None, limit: int,
) -> tuple[list[AuditEntry], str | None]:
    principal.require("audit", "read")
    if principal.kind == "user" and principal.role not in (Role.admin, Role.manager):
        raise Forbidden("The audit log is for admins and managers")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Unprocessable(f"{name} needs a time zone (e.g. 2026-11-23T08:00:00Z)",
                                errors=[{"loc": ["query", name], "msg": "naive datetime", "type": "timezone"}])
    stmt = select(AuditEntry).where(
        AuditEntry.org_id == principal.org_id, visible_owner_clause(principal, AuditEntry.actor_id)
    )
    if entity_type is not None:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    columns = [AuditEntry.occurred_at, AuditEntry.id]
    rows = (await session.scalars(keyset_page(stmt, columns, cursor=cursor, limit=limit, descending=True))).all()
    return page_of(rows, limit, lambda e: [e.occurred_at, e.id])


async def list_events(
    session: AsyncSession, principal: Principal, *, after_seq: int, types: Sequence[str] | None,
    entity_type: str | None, entity_id: uuid.UUID | None, limit: int,
) -> tuple[list[Event], bool]:
    principal.require("events", "read")
    if principal.kind == "user" and principal.role not in (Role.admin, Role.viewer):
        raise Forbidden("The events feed is for admins, viewers and API keys with events:read")
    stmt = select(Event).where(Event.org_id == principal.org_id, Event.seq > after_seq)
    if types:
        stmt = stmt.where(Event.type.in_(list(types)))
    if entity_type is not None:
        stmt = stmt.where(Event.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(Event.entity_id == entity_id)
    rows = (await session.scalars(stmt.order_by(Event.seq).limit(limit + 1))).all()
    return list(rows[:limit]), len(rows) > limit
