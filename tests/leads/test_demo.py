"""`crm seed-demo` fills leads, accounts, contacts, activities and tasks that hang together
with the demo deals: each deal at an account its owner can open, lifecycles that follow
from the deals, deals converted from leads by the conversion service, value classes set."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact
from app.activities.models import Activity, Task
from app.core.events import Event
from app.identity.models import User
from app.leads.models import Lead, LeadStatus
from app.pipelines.models import Opportunity
from app.seed import CHURNED_AFTER_DAYS, DemoOrg, seed_demo
from tests.support.factories import actor_for


async def test_demo_accounts_contacts_leads_lifecycles_and_value_classes(session: AsyncSession) -> None:
    demo = await seed_demo(session)
    org = demo.org_id

    async def count(model: type, *where: object) -> int:
        return await session.scalar(select(func.count()).select_from(model).where(model.org_id == org, *where))  # type: ignore[attr-defined]

    assert await count(Account) >= 30 and await count(Task) == 3
    spread = (await session.execute(select(
        func.count(func.distinct(Account.region)), func.count(func.distinct(Account.industry)),
        func.count(Account.size), func.count()).where(Account.org_id == org))).one()
    assert spread[0] >= 4 and spread[1] >= 10 and spread[2] == spread[3]  # every account has a size
    assert await count(Contact) >= await count(Account)
    assert set(demo.crm["accounts"]) >= {"huadong", "shenzhen"}
    statuses = dict((await session.execute(select(Lead.status, func.count()).where(Lead.org_id == org)
                                           .group_by(Lead.status))).all())
    assert all(statuses.get(s, 0) > 0 for s in LeadStatus), statuses
    scored = list(await session.scalars(select(Lead).where(Lead.org_id == org).order_by(Lead.score.desc())))
    assert scored[0].score > 0 and scored[0].score_breakdown  # the demo rules scored them
    assert all(lead.first_response_at for lead in scored if lead.status is not LeadStatus.new)
    # Leads arrive over the whole year, not just today.
    oldest = await session.scalar(select(func.min(Lead.created_at)).where(Lead.org_id == org))
    assert dt.datetime.now(dt.UTC) - oldest > dt.timedelta(days=300)
    # (One seed per test is several seconds: the other checks share it.)
    await _lifecycles_follow_the_deals_and_value_classes_are_set(session, demo)


async def test_every_deal_is_at_an_account_its_owner_can_open_and_lead_deals_point_back(session: AsyncSession, app: FastAPI,
                                                            client: httpx.AsyncClient) -> None:
    demo = await seed_demo(session)
    org = demo.org_id
    pairs = (await session.execute(select(Opportunity.owner_id, Opportunity.account_id).distinct()
                                   .where(Opportunity.org_id == org))).all()
    assert pairs and all(account_id is not None for _, account_id in pairs)
    for user in await session.scalars(select(User).where(User.org_id == org, User.id.in_({o for o, _ in pairs}))):
        headers = actor_for(app, user).headers
        for owner, account_id in pairs:
            if owner == user.id:
                res = await client.get(f"/v1/accounts/{account_id}", headers=headers)
                assert res.status_code == 200, (user.email, res.text)
    # Business is spread over the accounts, not a handful of them.
    used = await session.scalar(select(func.count(func.distinct(Opportunity.account_id))).where(Opportunity.org_id == org))
    assert used >= 25
    await _deals_converted_from_leads_point_back_with_consistent_times(session, demo)
    await _deal_activities_name_the_deal_its_account_and_a_contact_there(session, demo)


async def _lifecycles_follow_the_deals_and_value_classes_are_set(session: AsyncSession, demo: DemoOrg) -> None:
    rows = (await session.execute(text("""
        SELECT a.lifecycle::text, a.value_class, a.won_amount_12m,
               count(o.id) FILTER (WHERE o.status = 'won') AS won,
               count(o.id) FILTER (WHERE o.status = 'open') AS open,
               max(o.closed_at) FILTER (WHERE o.status = 'won') AS last_won,
               coalesce(sum(o.amount) FILTER (WHERE o.status = 'won' AND o.closed_at >= now() - interval '12 months'), 0) AS won_12m
        FROM account a LEFT JOIN opportunity o ON o.account_id = a.id
        WHERE a.org_id = :org GROUP BY a.id"""), {"org": demo.org_id})).all()
    churn_before = dt.datetime.now(dt.UTC) - dt.timedelta(days=CHURNED_AFTER_DAYS)
    for lifecycle, value_class, won_amount_12m, won, open_, last_won, won_12m in rows:
        expected = ("prospect" if won == 0 else "churned" if open_ == 0 and last_won < churn_before else "customer")
        assert lifecycle == expected, (lifecycle, won, open_, last_won)
        assert value_class in ("A", "B", "C") and won_amount_12m == won_12m
        assert value_class == "C" or won > 0
    assert {r[0] for r in rows} == {"prospect", "customer", "churned"}
    assert {r[1] for r in rows} == {"A", "B", "C"}


async def _deals_converted_from_leads_point_back_with_consistent_times(session: AsyncSession, demo: DemoOrg) -> None:
    org = demo.org_id
    converted = (await session.execute(
        select(Lead, Opportunity).join(Opportunity, Opportunity.id == Lead.converted_opportunity_id)
        .where(Lead.org_id == org, Lead.status == LeadStatus.converted))).all()
    assert len(converted) >= 30
    contacts = {c.id: c for c in await session.scalars(select(Contact).where(Contact.org_id == org))}
    for lead, opp in converted:
        assert opp.lead_id == lead.id and opp.account_id == lead.converted_account_id
        assert lead.created_at < lead.converted_at == opp.created_at  # back-dated to the deal's creation
        assert lead.owner_id == opp.owner_id and lead.company and lead.source == opp.source
        assert contacts[lead.converted_contact_id].account_id == opp.account_id
        assert lead.first_response_at is not None and lead.created_at <= lead.first_response_at <= lead.converted_at
    # The conversion service's own event, with the seconds it took.
    events = {e.entity_id: e.payload for e in await session.scalars(
        select(Event).where(Event.org_id == org, Event.type == "lead.converted"))}
    for lead, opp in converted:
        assert events[lead.id]["opportunity_id"] == str(opp.id)
        assert events[lead.id]["seconds_to_convert"] == int((lead.converted_at - lead.created_at).total_seconds())
    # Deals from leads are a share, not all of them.
    deals = await session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.org_id == org))
    assert len(converted) < deals / 4


async def _deal_activities_name_the_deal_its_account_and_a_contact_there(session: AsyncSession, demo: DemoOrg) -> None:
    org = demo.org_id
    deals = await session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.org_id == org))
    activities = (await session.execute(
        select(Activity, Opportunity.owner_id, Opportunity.account_id, Contact.account_id)
        .join(Opportunity, Opportunity.id == Activity.opportunity_id)
        .outerjoin(Contact, Contact.id == Activity.contact_id).where(Activity.org_id == org))).all()
    assert len(activities) >= deals  # one per stage a deal entered
    for activity, owner_id, account_id, contact_account_id in activities:
        assert activity.owner_id == owner_id and activity.account_id == account_id
        assert activity.contact_id is not None and contact_account_id == account_id
