"""`crm seed-demo`: a year of deals that analytics can show something with."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.pipelines.models import Opportunity, StageInterval, StageTransition
from app.seed import seed_demo


async def test_demo_year_is_realistic_and_consistent(session):
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
