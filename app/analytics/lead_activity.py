"""Figures over leads and activities (issue 6's tables), with the same visibility filter as
every other figure: lead creation -> first contact, and activities logged per rep."""

from __future__ import annotations

import uuid

from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity
from app.analytics.schemas import DurationStats
from app.analytics.scope import Window, visible
from app.analytics.stats import stats_columns, to_stats
from app.identity.principal import Principal
from app.leads.models import Lead


async def lead_first_contact(session: AsyncSession, principal: Principal, *, window: Window) -> DurationStats:
    """Seconds from a lead's creation to its first logged activity, over the leads created
    in the window that have been contacted (leads never contacted are not in the figures)."""
    seconds = extract("epoch", Lead.first_response_at - Lead.created_at)
    row = (await session.execute(
        select(*stats_columns(seconds)).where(
            Lead.org_id == principal.org_id, Lead.created_at >= window.start, Lead.created_at < window.end,
            Lead.first_response_at.is_not(None), visible(principal, Lead.owner_id),
        )
    )).first()
    return to_stats(row)


async def activities_logged(
    session: AsyncSession, principal: Principal, *, window: Window, owner_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Activities each rep logged (calls, emails, meetings, visits...) in the window."""
    if not owner_ids:
        return {}
    rows = await session.execute(
        select(Activity.owner_id, func.count()).where(
            Activity.org_id == principal.org_id, Activity.occurred_at >= window.start,
            Activity.occurred_at < window.end, Activity.owner_id.in_(owner_ids), visible(principal, Activity.owner_id),
        ).group_by(Activity.owner_id)
    )
    return {owner: n for owner, n in rows.all()}
