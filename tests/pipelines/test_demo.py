"""`crm seed-demo`: a year of deals that analytics can show something with."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import User
from app.pipelines.models import Opportunity, Pipeline, StageInterval, StageTransition
from app.seed import DemoOrg, seed_demo
from tests.support.factories import actor_for


async def test_demo_year_is_realistic_and_consistent(session: AsyncSession, app: FastAPI,
                                                    client: httpx.AsyncClient) -> None:
    demo = await seed_demo(session)
    org = demo.org_id
    by_status = dict((await session.execute(
        select(Opportunity.status, func.count()).where(Opportunity.org_id == org).group_by(Opportunity.status))).all())
    assert sum(by_status.values()) >= 500
    assert all(by_status.get(s, 0) > 30 for s in ("open", "won", "lost")), by_status
    # Lost deals carry a reason; every deal has exactly one open interval and a history chain.
    assert await session.scalar(select(func.count()).where(
        Opportunity.org_id == org, Opportunity.status == "lost", Opportunity.lost_reason_id.is_(None))) == 0
    open_intervals = await session.scalar(select(func.count()).select_from(StageInterval).where(
        StageInterval.org_id == org, StageInterval.exited_at.is_(None)))
    assert open_intervals == sum(by_status.values())
    bad_chain = await session.scalar(select(func.count()).select_from(Opportunity).where(
        Opportunity.org_id == org,
        Opportunity.version != select(func.count()).where(StageTransition.opportunity_id == Opportunity.id).scalar_subquery()))
    assert bad_chain == 0
    # Deals spread over the year, with some regressions and a spread of owners.
    first, last = (await session.execute(select(func.min(Opportunity.created_at), func.max(Opportunity.created_at))
                                         .where(Opportunity.org_id == org))).one()
    assert last - first > dt.timedelta(days=300)
    kinds = dict((await session.execute(select(StageTransition.kind, func.count()).where(
        StageTransition.org_id == org).group_by(StageTransition.kind))).all())
    assert kinds.get("regressed", 0) > 0 and kinds.get("won", 0) > 0
    owners = await session.scalar(select(func.count(func.distinct(Opportunity.owner_id))).where(Opportunity.org_id == org))
    assert owners >= 4
    # (One seed per test is several seconds: the analytics check shares this one.)
    await _every_analytics_report_has_figures(session, app, client, demo)


def _money(value: str | None) -> float:
    return float(value or 0)


async def _every_analytics_report_has_figures(session: AsyncSession, app: FastAPI, client: httpx.AsyncClient,
                                              demo: DemoOrg) -> None:
    """Each report, as the demo admin over its default period (the last 90 days), shows
    non-zero figures; so does a rep's own lead conversion."""
    admin = await session.scalar(select(User).where(User.org_id == demo.org_id, User.email == demo.admin_email))
    rep = await session.scalar(select(User).where(User.org_id == demo.org_id, User.email == "rep.chen@demo.example"))
    headers = actor_for(app, admin).headers
    pipeline = await session.scalar(select(Pipeline.id).where(Pipeline.org_id == demo.org_id, Pipeline.is_default))

    async def report(path: str, as_headers: dict[str, str] = headers, **params: str) -> dict:
        res = await client.get(f"/v1/analytics/{path}", params={"pipeline_id": str(pipeline), **params},
                               headers=as_headers)
        assert res.status_code == 200, (path, res.text)
        return res.json()

    conversion = await report("stage-conversion")
    assert all(s["entered"] > 0 for s in conversion["series"][0]["stages"])
    duration = await report("stage-duration")
    assert all(s["per_visit"]["count"] > 0 for s in duration["series"][0]["stages"])
    assert duration["series"][0]["sales_cycle_won"]["count"] > 0 and duration["lead_first_contact"]["count"] > 0
    win = (await report("win-rate"))["rows"][0]
    assert win["won"] > 0 and win["lost"] > 0 and _money(win["won_amount"]) > 0
    lost = await report("lost-reasons")
    assert len(lost["by_reason"]) >= 3 and lost["by_stage"]
    forecast = (await report("forecast", to=(dt.date.today() + dt.timedelta(days=120)).isoformat()))["rows"]
    assert sum(r["open_deals"] for r in forecast) > 0 and sum(_money(r["weighted_amount"]) for r in forecast) > 0
    velocity = (await report("velocity"))["rows"][0]
    assert velocity["open_deals"] > 0 and _money(velocity["velocity_per_day"]) > 0
    value = (await report("pipeline-value"))["rows"]
    assert value and sum(_money(r["weighted_amount"]) for r in value) > 0
    scorecard = (await report("scorecard"))["rows"]
    assert len(scorecard) == 4 and all(r["won"] > 0 and r["activities_logged"] > 0 for r in scorecard)
    leads = (await report("lead-conversion"))["rows"][0]
    assert leads["converted"] > 0 and leads["disqualified"] > 0 and leads["median_hours_to_convert"] > 0
    # Deals take two months and more to close: their wins show over the year's leads.
    year = (await report("lead-conversion", **{"from": (dt.date.today() - dt.timedelta(days=364)).isoformat()}))["rows"][0]
    assert year["won_opportunities"] > 0 and _money(year["won_amount"]) > 0
    by_source = (await report("lead-conversion", group_by="source"))["rows"]
    assert len(by_source) >= 4
    own = (await report("lead-conversion", actor_for(app, rep).headers))["rows"][0]
    assert 0 < own["leads"] < leads["leads"] and own["converted"] > 0
