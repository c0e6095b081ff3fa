"""Figures whose data lands with the leads/activities domain (issue 6). Each is one small
function answering an explicit `not_available` marker until then; at merge its body
becomes the SQL sketched in its docstring, over
    lead(org_id, owner_id, source, created_at, first_response_at)
    activity(org_id, owner_id = who logged it, kind, occurred_at)
with the same visibility filter (visible_owner_clause on owner_id) as every figure."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.schemas import DurationStats, NotAvailable
from app.analytics.scope import Window
from app.identity.principal import Principal

LEADS_NOT_RECORDED = "Leads are not recorded in this deployment yet"
ACTIVITIES_NOT_RECORDED = "Activities are not recorded in this deployment yet"


async def lead_first_contact(
    session: AsyncSession, principal: Principal, *, window: Window
) -> DurationStats | NotAvailable:
    """Lead creation -> first contact: count, mean, p50/p75/p90 of
    `first_response_at - created_at` over leads created in the window (leads never
    contacted are left out of the statistics):

        SELECT count(*), avg(s), percentile_cont(ARRAY[.5,.75,.9]) WITHIN GROUP (ORDER BY s)
        FROM (SELECT extract(epoch FROM first_response_at - created_at) AS s FROM lead
              WHERE org_id = :org AND created_at >= :start AND created_at < :end
                AND first_response_at IS NOT NULL AND <visible owner_id>) t
    """
    return NotAvailable(reason=LEADS_NOT_RECORDED)


async def activities_logged(
    session: AsyncSession, principal: Principal, *, window: Window, owner_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int] | NotAvailable:
    """Activities logged per rep in the window:

        SELECT owner_id, count(*) FROM activity
        WHERE org_id = :org AND occurred_at >= :start AND occurred_at < :end
          AND owner_id = ANY(:owner_ids) AND <visible owner_id>
        GROUP BY owner_id
    """
    return NotAvailable(reason=ACTIVITIES_NOT_RECORDED)
