"""Demo data for `crm seed-demo` and `crm serve --demo`: a realistic organisation.

Each domain adds its part in its own `demo.py` and is called from here in order.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Contact
from app.accounts.value import classify_accounts
from app.activities.models import Activity, ActivityKind
from app.core.bulk import insert_rows
from app.core.config import get_settings
from app.core.ids import new_id
from app.core.security import hash_password
from app.identity.models import Org, Role, Team, User
from app.identity.service import create_org
from app.leads.demo import convert_demo_leads, seed_leads_demo
from app.leads.models import Lead
from app.pipelines.demo import plan_pipeline_demo, write_pipeline_demo
from app.pipelines.models import Opportunity, Stage, StageKind, StageTransition

DEMO_ORG_NAME = "Demo Trading Co. 演示贸易有限公司"
DEMO_PASSWORD = "demo-password-123"


@dataclass
class DemoOrg:
    org_id: uuid.UUID
    admin_email: str
    password: str
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    teams: dict[str, uuid.UUID] = field(default_factory=dict)
    crm: dict[str, Any] = field(default_factory=dict)  # leads/accounts/contacts demo ids


async def demo_exists(session: AsyncSession) -> bool:
    return (await session.execute(select(Org.id).where(Org.name == DEMO_ORG_NAME))).first() is not None


async def seed_demo(session: AsyncSession) -> DemoOrg:
    password_hash = hash_password(DEMO_PASSWORD)
    org, admin, _ = await create_org(session, name=DEMO_ORG_NAME, admin_email="admin@demo.example",
                                     admin_name="Alex Admin", admin_password_hash=password_hash)
    org.settings = {"currency": "CNY", "timezone": "Asia/Shanghai"}
    demo = DemoOrg(org_id=org.id, admin_email="admin@demo.example", password=DEMO_PASSWORD)

    def user(key: str, name: str, role: Role, team: Team | None) -> User:
        u = User(org_id=org.id, email=f"{key}@demo.example", full_name=name, role=role,
                 team_id=team.id if team else None, password_hash=password_hash)
        session.add(u)
        return u

    sales = Team(org_id=org.id, name="Sales 销售部")
    session.add(sales)
    await session.flush()
    east = Team(org_id=org.id, name="East China 华东区", parent_id=sales.id)
    north = Team(org_id=org.id, name="North China 华北区", parent_id=sales.id)
    session.add_all([east, north])
    await session.flush()
    director = user("director", "Diana Director 王总", Role.manager, sales)
    east_mgr = user("east.manager", "Li Wei 李伟", Role.manager, east)
    north_mgr = user("north.manager", "Zhang Min 张敏", Role.manager, north)
    reps = [
        user("rep.chen", "Chen Jing 陈静", Role.rep, east),
        user("rep.liu", "Liu Yang 刘洋", Role.rep, east),
        user("rep.wang", "Wang Fang 王芳", Role.rep, north),
        user("rep.zhao", "Zhao Lei 赵磊", Role.rep, north),
    ]
    viewer = user("viewer", "Victor Viewer", Role.viewer, None)
    await session.flush()
    sales.manager_id, east.manager_id, north.manager_id = director.id, east_mgr.id, north_mgr.id
    demo.teams = {"sales": sales.id, "east": east.id, "north": north.id}
    demo.users = {u.email.split("@")[0]: u.id for u in [admin, director, east_mgr, north_mgr, *reps, viewer]}
    await session.flush()
    demo.crm = await seed_leads_demo(session, org_id=org.id, users=demo.users, teams=demo.teams)
    plan = await plan_pipeline_demo(session, org.id, demo.users, demo.crm.pop("deal_accounts"))
    converted = await convert_demo_leads(session, org_id=org.id, deals=plan.from_leads(),
                                         regions=demo.crm.pop("regions"))
    await write_pipeline_demo(session, plan, converted)
    await _log_deal_activities(session, org.id)
    await _derive_account_lifecycles(session, org.id)
    await classify_accounts(session, get_settings(), org_id=org.id)
    return demo


# What a rep does to move a deal into each stage of the default pipeline: the demo logs
# one such activity per stage change, so the scorecard and timelines show real activity.
_ACTIVITY_FOR_STAGE = {0: ActivityKind.call, 1: ActivityKind.call, 2: ActivityKind.meeting, 3: ActivityKind.visit,
                       4: ActivityKind.proposal, 5: ActivityKind.meeting}


async def _log_deal_activities(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Log the activity behind each stage change of every demo deal (at the time of the
    change, by the deal's owner, with the deal's account and one of its contacts: the
    person of the converted lead for a deal that came from one)."""
    moves = (await session.execute(
        select(StageTransition.opportunity_id, StageTransition.occurred_at, Stage.position, Stage.name,
               Opportunity.owner_id, Opportunity.account_id, Lead.converted_contact_id)
        .join(Stage, Stage.id == StageTransition.to_stage_id)
        .join(Opportunity, Opportunity.id == StageTransition.opportunity_id)
        .outerjoin(Lead, Lead.id == Opportunity.lead_id)
        .where(StageTransition.org_id == org_id, Stage.kind == StageKind.open)
    )).all()
    people: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for account_id, contact_id in await session.execute(
            select(Contact.account_id, Contact.id).where(Contact.org_id == org_id).order_by(Contact.created_at, Contact.id)):
        people[account_id].append(contact_id)

    def contact(m: Any) -> uuid.UUID | None:
        if m.converted_contact_id and m.position < 2:
            return m.converted_contact_id
        at_account = people.get(m.account_id) or [None]
        return at_account[m.position % len(at_account)]

    await insert_rows(session, Activity, [
        {"id": new_id(), "org_id": org_id, "owner_id": m.owner_id,
         "kind": _ACTIVITY_FOR_STAGE.get(m.position, ActivityKind.note), "subject": m.name,
         "occurred_at": m.occurred_at, "opportunity_id": m.opportunity_id, "account_id": m.account_id,
         "contact_id": contact(m), "version": 1}
        for m in moves
    ])


# Lifecycle from the deals: a customer has won; one whose wins are all older than this and
# who has nothing open has churned; everyone else is a prospect.
CHURNED_AFTER_DAYS = 180


async def _derive_account_lifecycles(session: AsyncSession, org_id: uuid.UUID) -> None:
    await session.execute(text("""
        WITH deals AS (
            SELECT a.id, count(o.id) FILTER (WHERE o.status = 'won') AS won,
                   count(o.id) FILTER (WHERE o.status = 'open') AS open,
                   max(o.closed_at) FILTER (WHERE o.status = 'won') AS last_won,
                   min(o.created_at) AS first_deal
            FROM account a LEFT JOIN opportunity o ON o.org_id = a.org_id AND o.account_id = a.id
            WHERE a.org_id = :org GROUP BY a.id)
        UPDATE account a SET
            lifecycle = (CASE WHEN d.won = 0 THEN 'prospect'
                              WHEN d.open = 0 AND d.last_won < now() - make_interval(days => :churn) THEN 'churned'
                              ELSE 'customer' END)::account_lifecycle,
            -- an account existed before its first deal
            created_at = least(a.created_at, d.first_deal - interval '14 days')
        FROM deals d WHERE a.id = d.id
    """), {"org": org_id, "churn": CHURNED_AFTER_DAYS})
