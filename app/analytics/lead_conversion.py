"""Lead-to-opportunity conversion (`lead-conversion/v1`, docs/metrics.md): of the leads
created in the period, how many converted or were disqualified, how long conversion took,
and what the opportunities they became have won. One SQL statement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Double, String, and_, cast, extract, func, literal, select
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, True_

from app.analytics.schemas import LeadConversionReport, LeadConversionRow, LeadGroupBy
from app.analytics.scope import Window, rate, tune, visible
from app.identity.models import User
from app.identity.principal import Principal
from app.leads.models import Lead, LeadStatus
from app.pipelines.models import Opportunity, OpportunityStatus

DEFINITION = (
    "lead-conversion/v1: leads created (created_at) in the period, not merged into another; converted = "
    "converted_at set, disqualified = status now; hours to convert = converted_at - created_at (median, p90); "
    "won = their opportunities (lead_id) won now and not deleted, amount in the currency"
)
CENT = Decimal("0.01")
DIMENSIONS: dict[LeadGroupBy, ColumnElement[Any]] = {
    LeadGroupBy.source: Lead.source, LeadGroupBy.owner: cast(Lead.owner_id, String),
    LeadGroupBy.campaign: Lead.campaign, LeadGroupBy.grade: Lead.grade,
}


async def lead_conversion(session: AsyncSession, principal: Principal, *, window: Window,
                          group_by: LeadGroupBy | None, currency: str) -> LeadConversionReport:
    # Leads and deals are both filtered by owner visibility (a deal's owner may differ from its
    # lead's after a reassignment): one set of visible owners, so the team CTE appears once.
    everyone = visible(principal, User.id)
    if isinstance(everyone, True_):
        def owned(col: ColumnElement[Any]) -> ColumnElement[bool]:
            return everyone
    else:
        owners = select(User.id).where(User.org_id == principal.org_id, everyone).cte("visible_owner")

        def owned(col: ColumnElement[Any]) -> ColumnElement[bool]:
            return col.in_(select(owners.c.id))
    o = Opportunity
    won = (
        select(o.lead_id, func.count().label("n"), func.sum(o.amount).filter(o.currency == currency).label("amount"))
        .where(o.org_id == principal.org_id, o.lead_id.is_not(None), o.status == OpportunityStatus.won,
               o.deleted_at.is_(None), owned(o.owner_id))
        .group_by(o.lead_id).subquery("won")
    )
    hours = extract("epoch", Lead.converted_at - Lead.created_at) / 3600
    quantiles = func.percentile_cont(pg_array([literal(0.5), literal(0.9)])).within_group(hours)
    quantiles.type = ARRAY(Double())
    group = DIMENSIONS[group_by] if group_by else literal(None, String)
    stmt = (
        select(
            group.label("grp"), func.count().label("leads"),
            func.count().filter(Lead.converted_at.is_not(None)).label("converted"),
            func.count().filter(Lead.status == LeadStatus.disqualified).label("disqualified"),
            quantiles.label("q"),  # percentile_cont skips the nulls of unconverted leads
            func.coalesce(func.sum(won.c.n), 0).label("won"), func.sum(won.c.amount).label("amount"),
        )
        .select_from(Lead).outerjoin(won, won.c.lead_id == Lead.id)
        .where(and_(Lead.org_id == principal.org_id, Lead.created_at >= window.start, Lead.created_at < window.end,
                    Lead.merged_into_id.is_(None), owned(Lead.owner_id)))
    )
    if group_by:
        stmt = stmt.group_by(group)
    await tune(session)
    rows = []
    for r in await session.execute(stmt):
        if not r.leads:
            continue  # the ungrouped aggregate over no lead
        median, p90 = r.q or (None, None)
        rows.append(LeadConversionRow(
            group=r.grp, leads=r.leads, converted=r.converted, disqualified=r.disqualified,
            conversion_rate=rate(r.converted, r.leads), median_hours_to_convert=median, p90_hours_to_convert=p90,
            won_opportunities=int(r.won), won_amount=Decimal(r.amount or 0).quantize(CENT)))
    rows.sort(key=lambda row: (row.group is None, row.group or ""))
    if not rows and group_by is None:
        rows = [LeadConversionRow(group=None, leads=0, converted=0, disqualified=0, conversion_rate=None,
                                  median_hours_to_convert=None, p90_hours_to_convert=None, won_opportunities=0,
                                  won_amount=Decimal("0.00"))]
    return LeadConversionReport(definition=DEFINITION, period=window.period(), group_by=group_by, currency=currency,
                                rows=rows)
