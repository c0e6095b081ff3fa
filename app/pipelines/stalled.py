"""Worker job: raise `opportunity.stalled` once per stall.

A deal is stalled when it is open and has been in its stage longer than the stage's SLA
(the same rule reads use). `stalled_notified_for` remembers the stage visit (its
entered_at) the event was raised for, so each visit raises at most one event; a move
starts a new visit and a new clock. Claims rows with FOR UPDATE SKIP LOCKED, so several
workers share the work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import record_event
from app.pipelines.models import Opportunity
from app.pipelines.queries import FROM, IS_STALLED, VIEW_COLUMNS, o, opportunity_view

BATCH = 500


async def raise_stalled_events(session: AsyncSession, settings: Any = None) -> int:
    rows = (await session.execute(
        select(*VIEW_COLUMNS, o.c.org_id.label("org_id")).select_from(FROM)
        .where(IS_STALLED, o.c.deleted_at.is_(None),
               o.c.stalled_notified_for.is_distinct_from(o.c.stage_entered_at))
        .order_by(o.c.org_id, o.c.stage_entered_at)
        .limit(BATCH)
        .with_for_update(of=o, skip_locked=True)
    )).mappings().all()
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        await session.execute(
            update(Opportunity).where(Opportunity.id == row["id"]).values(stalled_notified_for=row["stage_entered_at"])
        )
        view = opportunity_view(row, now)
        await record_event(
            session, org_id=row["org_id"], type="opportunity.stalled", entity_type="opportunity",
            entity_id=row["id"],
            payload={"opportunity": view, "stage": view["stage"], "stalled_since": view["stalled_since"],
                     "days_in_stage": (now - row["stage_entered_at"]).days, "sla_days": row["stage_sla_days"],
                     "owner_id": row["owner_id"], "amount": row["amount"], "currency": row["currency"]},
        )
    return len(rows)
