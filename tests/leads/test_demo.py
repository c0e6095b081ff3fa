"""`crm seed-demo` fills leads, accounts, contacts, activities and tasks that hang together."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact
from app.activities.models import Activity, Task
from app.leads.models import Lead
from app.pipelines.models import Opportunity
from app.seed import seed_demo


async def test_demo_data_is_consistent(session: AsyncSession) -> None:
    demo = await seed_demo(session)
    org = demo.org_id

    async def count(model: type) -> int:
        return await session.scalar(select(func.count()).select_from(model).where(model.org_id == org))  # type: ignore[attr-defined]

    assert (await count(Lead), await count(Account), await count(Contact)) == (7, 5, 6)
    assert await count(Task) == 3
    assert set(demo.crm["accounts"]) >= {"huadong", "shenzhen"}
    scored = list(await session.scalars(select(Lead).where(Lead.org_id == org).order_by(Lead.score.desc())))
    assert scored[0].score > 0 and scored[0].score_breakdown  # the demo rules scored them
    contacted = [lead for lead in scored if lead.status.value in ("contacted", "qualified")]
    assert all(lead.first_response_at for lead in contacted)


async def test_demo_deals_belong_to_demo_accounts_and_carry_their_activities(session: AsyncSession) -> None:
    demo = await seed_demo(session)
    org = demo.org_id
    deals = await session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.org_id == org))
    without_account = await session.scalar(select(func.count()).select_from(Opportunity).where(
        Opportunity.org_id == org, Opportunity.account_id.is_(None)))
    assert deals and without_account == 0
    accounts_used = await session.scalar(select(func.count(func.distinct(Opportunity.account_id))).where(
        Opportunity.org_id == org))
    assert accounts_used == len(demo.crm["accounts"])
    # One activity per stage a deal entered, by its owner, at the time it entered it.
    deal_activities = await session.scalar(select(func.count()).select_from(Activity).where(
        Activity.org_id == org, Activity.opportunity_id.is_not(None)))
    assert deal_activities >= deals
    mismatched = await session.scalar(select(func.count()).select_from(Activity).join(
        Opportunity, Opportunity.id == Activity.opportunity_id).where(
        Activity.org_id == org, Activity.owner_id != Opportunity.owner_id))
    assert mismatched == 0
