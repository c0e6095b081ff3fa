"""Demo data for leads, accounts, contacts, activities and tasks (`crm seed-demo`).

Called from app/seed.py after the organisation and its people exist:

- `seed_leads_demo`: rules, tens of accounts (each owned by a rep of its region, with a
  share of that rep's business and a buying period: long-standing, lapsed or new), their
  contacts, a year of leads that did not become deals (disqualified, nurtured, new), and
  hand-written examples. Returns the accounts for the pipelines demo.
- `convert_demo_leads`: a lead behind each deal the pipelines demo marked as coming from
  one, converted through the real conversion service at the deal's creation time.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact
from app.activities.models import Activity, ActivityKind, Task, TaskStatus
from app.core.bulk import insert_rows
from app.core.ids import new_id
from app.identity.service import system_principal
from app.leads import scoring
from app.leads.conversion import convert
from app.leads.models import AssignmentRule, Lead, LeadStatus, ScoringRule
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer
from app.leads.schemas import ConvertRequest
from app.pipelines.demo import DealAccount, DemoDeal

SEED = 20261124
# Buying periods, in days into the simulated year of deals (app/pipelines/demo.py).
STEADY, LAPSED, NEW = (0, 366), (0, 100), (270, 366)
TIER_WEIGHT = {"strategic": 6.0, "key": 3.0, "standard": 1.0}
ACCOUNTS = [
    # key, name, industry, size, region, tier, owner, buying period. The lifecycle
    # (prospect/customer/churned) follows from the deals at the end of the seed.
    ("huadong", "上海华东机械有限公司", "Machinery 机械", 1200, "East China", "strategic", "rep.chen", STEADY),
    ("shenzhen", "深圳创新电子股份有限公司", "Electronics 电子", 650, "South China", "key", "rep.liu", STEADY),
    ("beijing", "Beijing Northstar Logistics Co., Ltd.", "Logistics 物流", 300, "North China", "standard", "rep.wang", NEW),
    ("tianjin", "天津港湾贸易有限公司", "Trading 贸易", 90, "North China", "standard", "rep.zhao", STEADY),
    ("hangzhou", "Hangzhou Westlake Foods Inc", "Food 食品", 2200, "East China", "key", "rep.chen", LAPSED),
]
# More accounts: name, industry, region (size, tier, owner and buying period drawn from SEED).
MORE_ACCOUNTS = [
    ("华东电力工程有限公司", "Energy 能源", "East China"), ("申城物流有限公司", "Logistics 物流", "East China"),
    ("江南制造股份有限公司", "Machinery 机械", "East China"), ("北方重工集团", "Heavy industry 重工", "North China"),
    ("京华医药有限公司", "Pharma 医药", "North China"), ("海河港务有限公司", "Ports 港务", "North China"),
    ("明珠零售有限公司", "Retail 零售", "South China"), ("长风汽车配件有限公司", "Automotive 汽车", "Central China"),
    ("蓝海化工有限公司", "Chemicals 化工", "East China"), ("天成建设集团", "Construction 建筑", "North China"),
    ("Acme Shanghai Ltd", "Machinery 机械", "East China"), ("Globex China Co., Ltd.", "Electronics 电子", "South China"),
    ("Initech Beijing Ltd", "Software 软件", "North China"), ("Umbrella Suzhou Pharma Co.", "Pharma 医药", "East China"),
    ("中原食品有限公司", "Food 食品", "Central China"), ("星河电子科技有限公司", "Electronics 电子", "South China"),
    ("紫金矿业装备有限公司", "Mining 矿业", "South China"), ("东方航空服务有限公司", "Aviation 航空", "East China"),
    ("西湖文旅集团", "Tourism 文旅", "East China"), ("松江半导体有限公司", "Semiconductors 半导体", "East China"),
    ("大连海洋装备有限公司", "Marine 船舶", "North China"), ("青岛啤酒包装有限公司", "Packaging 包装", "North China"),
    ("重庆山城机电有限公司", "Machinery 机械", "West China"), ("Chengdu Panda Logistics Ltd", "Logistics 物流", "West China"),
    ("宁波港航设备有限公司", "Ports 港务", "East China"), ("石家庄纺织集团", "Textiles 纺织", "North China"),
    ("Xi'an Aero Components Co.", "Aviation 航空", "West China"), ("无锡精密仪器有限公司", "Instruments 仪器", "East China"),
    ("济南钢构有限公司", "Steel 钢铁", "North China"), ("广州美妆日化有限公司", "Consumer goods 日化", "South China"),
]
REGION_REPS = {"East China": ["rep.chen", "rep.liu"], "North China": ["rep.wang", "rep.zhao"]}
ALL_REPS = ["rep.chen", "rep.liu", "rep.wang", "rep.zhao"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "杰", "勇", "艳", "军", "霞", "Lily", "Kevin", "Grace", "David"]
FAMILY = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
          ("赵", "zhao"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun")]
TITLES = ["采购经理 Purchasing Manager", "总经理 General Manager", "设备部主任 Head of Equipment", "CTO",
          "Operations Director", "项目经理 Project Manager"]
CAMPAIGNS = {"event": ["2026 Canton Fair", "Hannover Messe 2026"], "web_form": ["Website Q4", "Website spring promo"],
             "social": ["WeChat ads"]}
INTERESTS = ["CNC", "Lathe", "Laser", "Packaging", None]
LEAD_COMPANIES = ["苏州精工有限公司", "Ningbo Bright Plastics", "合肥新能源科技", "Dalian Cold Chain Ltd", "厦门海鲜贸易",
                  "昆明花卉集团", "Harbin Ice Machinery", "南昌光电有限公司", "Foshan Ceramics Co.", "温州鞋业有限公司",
                  "长沙工程机械配件", "Guiyang Data Services", "太原煤机有限公司", "Shantou Toys Ltd", "洛阳轴承有限公司"]
DISQUALIFY_REASONS = ["No budget 无预算", "Student / not a buyer 非采购方", "Duplicate enquiry 重复咨询",
                      "Outside our region 超出服务区域", "Spam call 骚扰电话"]
OTHER_LEADS = 160  # leads over the year that did not become deals

CONTACTS = [
    ("huadong", "伟", "张", "zhang.wei@huadong.example", "138 0013 8000", "采购总监 Purchasing Director"),
    ("huadong", "芳", "王", "wang.fang@huadong.example", "139 1234 5678", "总工程师 Chief Engineer"),
    ("shenzhen", "静", "刘", "liu.jing@szcx.example", "0755-8888 6666", "CTO"),
    ("beijing", "Lei", "Zhao", "lei.zhao@northstar.example", "+86 10 6552 8899", "Operations Manager"),
    ("tianjin", "敏", "孙", "sun.min@tjport.example", "136 2222 3333", "总经理 General Manager"),
    ("hangzhou", "Anna", "Xu", "anna.xu@westlake.example", "+86 571 8765 4321", "Head of Procurement"),
]
LEADS = [
    # first, last, email, phone, company, size, region, interest, source, campaign, owner, status, hours ago
    ("洋", "陈", "chen.yang@nanjing-steel.example", "137 0000 1111", "南京钢铁有限公司", 3000, "East China", "CNC", "event", "2026 Canton Fair", "rep.chen", LeadStatus.contacted, 50),
    ("Mike", "Li", "mike.li@qdmarine.example", "+86 532 8000 1234", "Qingdao Marine Ltd", 450, "North China", "Lathe", "referral", None, "rep.wang", LeadStatus.qualified, 120),
    ("娜", "何", "he.na@cdfoods.example", "135 5555 6666", "成都美食集团", 800, "West China", "Packaging", "web_form", "Website Q4", None, LeadStatus.new, 3),
    ("Tom", "Zhou", "tom.zhou@xmtrade.example", None, "Xiamen Trade Inc", 60, "South China", None, "social", "WeChat ads", "rep.liu", LeadStatus.new, 30),
    ("磊", "吴", "wu.lei@whauto.example", "186 7777 8888", "武汉汽车零部件有限公司", 1500, "Central China", "CNC", "visit", None, "rep.zhao", LeadStatus.contacted, 72),
    ("Jing", "Gao", "jing.gao@spam.example", "150 0000 0000", "Unknown", None, None, None, "hotline", None, "rep.wang", LeadStatus.disqualified, 200),
    ("杰", "郭", "guo.jie@szrobot.example", "188 9999 0000", "苏州机器人科技有限公司", 250, "East China", "Laser", "event", "2026 Canton Fair", None, LeadStatus.new, 1),
]


def _person(rng: random.Random, n: int) -> tuple[str, str, str]:
    """A first name, last name and a unique e-mail local part."""
    given = rng.choice(GIVEN)
    family, pinyin = rng.choice(FAMILY)
    return given, family, f"{pinyin}.{n}"


async def seed_leads_demo(session: AsyncSession, *, org_id: uuid.UUID, users: dict[str, uuid.UUID],
                          teams: dict[str, uuid.UUID]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(SEED)
    phone = phone_normalizer("CN")
    session.add_all([
        ScoringRule(org_id=org_id, name="Referral 转介绍", field="source", operator="eq", value="referral", points=30, version=1),
        ScoringRule(org_id=org_id, name="Trade fair 展会", field="source", operator="eq", value="event", points=15, version=1),
        ScoringRule(org_id=org_id, name="Large company 大型企业", field="company_size", operator="gt", value=500, points=25, version=1),
        ScoringRule(org_id=org_id, name="Machines interest", field="product_interest", operator="in", value=["CNC", "Lathe", "Laser"], points=20, version=1),
        ScoringRule(org_id=org_id, name="No phone 无电话", field="phone", operator="is_empty", points=-10, version=1),
        AssignmentRule(org_id=org_id, name="East China round robin 华东轮询", position=0, target_team_id=teams["east"], version=1,
                       conditions=[{"field": "region", "operator": "eq", "value": "East China"}]),
        AssignmentRule(org_id=org_id, name="North China round robin 华北轮询", position=1, target_team_id=teams["north"], version=1,
                       conditions=[{"field": "region", "operator": "eq", "value": "North China"}]),
    ])
    plan = list(ACCOUNTS)
    for i, (name, industry, region) in enumerate(MORE_ACCOUNTS):
        tier = rng.choices(list(TIER_WEIGHT), weights=[1, 3, 8])[0]
        size = int(rng.lognormvariate(math.log(400 if tier == "standard" else 1500), 0.8))
        period = rng.choices([STEADY, LAPSED, NEW], weights=[6, 2, 2])[0]
        plan.append((f"a{i}", name, industry, size, region, tier, rng.choice(REGION_REPS.get(region, ALL_REPS)), period))
    accounts: dict[str, Account] = {}
    deal_accounts: list[DealAccount] = []
    for key, name, industry, size, region, tier, owner, (buys_from, buys_until) in plan:
        accounts[key] = account = Account(
            id=new_id(), org_id=org_id, owner_id=users[owner], name=name, name_normalized=normalize_company(name) or name,
            industry=industry, size=size, region=region, tier=tier, version=1)
        deal_accounts.append(DealAccount(id=account.id, owner_id=account.owner_id, name=name, weight=TIER_WEIGHT[tier],
                                         buys_from=buys_from, buys_until=buys_until))
    session.add_all(accounts.values())
    await session.flush()
    contacts: list[Contact] = []
    for key, first, last, email, tel, title in CONTACTS:
        account = accounts[key]
        contacts.append(Contact(org_id=org_id, owner_id=account.owner_id, account_id=account.id, first_name=first, last_name=last,
                                email=email, email_normalized=normalize_email(email)[0], phone=tel, phone_normalized=phone(tel)[0],
                                title=title, version=1))
    session.add_all(contacts)
    more_contacts = []
    for n, account in enumerate(a for k, a in accounts.items() if k not in {c[0] for c in CONTACTS}):
        for m in range(rng.randint(1, 3)):
            first, last, local = _person(rng, n * 10 + m)
            email = f"{local}@customer{n}.example"
            tel = f"139 {n:04d} {m:04d}"
            more_contacts.append({
                "id": new_id(), "org_id": org_id, "owner_id": account.owner_id, "account_id": account.id, "first_name": first,
                "last_name": last, "email": email, "email_normalized": normalize_email(email)[0], "phone": tel,
                "phone_normalized": phone(tel)[0], "title": rng.choice(TITLES), "version": 1})
    await insert_rows(session, Contact, more_contacts)
    leads: list[Lead] = []
    for first, last, email, tel, company, size, region, interest, source, campaign, owner, status, hours in LEADS:
        created = now - dt.timedelta(hours=hours)
        lead = Lead(org_id=org_id, owner_id=users.get(owner) if owner else None, first_name=first, last_name=last, email=email,
                    email_normalized=normalize_email(email)[0], phone=tel, phone_normalized=phone(tel)[0], company=company,
                    company_normalized=normalize_company(company), company_size=size, region=region, product_interest=interest,
                    source=source, campaign=campaign, status=status, created_at=created, updated_at=created,
                    assigned_at=created if owner else None, version=1,
                    disqualify_reason="Spam call 骚扰电话" if status is LeadStatus.disqualified else None,
                    first_response_at=created + dt.timedelta(minutes=40) if status is not LeadStatus.new else None)
        leads.append(lead)
    session.add_all(leads)
    await session.flush()
    await _other_leads(session, rng, org_id, users, now)
    await scoring.rescore(session, org_id)
    activities = [
        Activity(org_id=org_id, owner_id=users["rep.chen"], kind=ActivityKind.visit, subject="拜访华东机械 / site visit",
                 body="讨论二期产线改造需求", occurred_at=now - dt.timedelta(days=12), duration_minutes=90,
                 account_id=accounts["huadong"].id, contact_id=contacts[0].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.chen"], kind=ActivityKind.call, subject="Follow-up call 电话跟进",
                 occurred_at=now - dt.timedelta(days=5), duration_minutes=20, account_id=accounts["huadong"].id,
                 contact_id=contacts[1].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.liu"], kind=ActivityKind.proposal, subject="方案书已发送 Proposal sent",
                 occurred_at=now - dt.timedelta(days=3), account_id=accounts["shenzhen"].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.wang"], kind=ActivityKind.meeting, subject="Kick-off meeting",
                 occurred_at=now - dt.timedelta(days=8), duration_minutes=60, account_id=accounts["beijing"].id,
                 contact_id=contacts[3].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.chen"], kind=ActivityKind.call, subject="首次电话 first call",
                 occurred_at=leads[0].created_at + dt.timedelta(minutes=40), duration_minutes=10, lead_id=leads[0].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.wang"], kind=ActivityKind.email, subject="Intro email 介绍邮件",
                 occurred_at=leads[1].created_at + dt.timedelta(minutes=40), lead_id=leads[1].id, version=1),
        Activity(org_id=org_id, owner_id=users["rep.zhao"], kind=ActivityKind.visit, subject="工厂参观 factory tour",
                 occurred_at=leads[4].created_at + dt.timedelta(minutes=40), lead_id=leads[4].id, version=1),
    ]
    session.add_all(activities)
    session.add_all([
        Task(org_id=org_id, assignee_id=users["rep.chen"], created_by=users["rep.chen"], title="发送报价 Send the quotation",
             due_at=now + dt.timedelta(days=1), remind_at=now + dt.timedelta(hours=20), account_id=accounts["huadong"].id,
             status=TaskStatus.open, version=1),
        Task(org_id=org_id, assignee_id=users["rep.liu"], created_by=users["east.manager"], title="Call back Tom Zhou",
             due_at=now - dt.timedelta(hours=2), lead_id=leads[3].id, status=TaskStatus.open, version=1),
        Task(org_id=org_id, assignee_id=users["rep.wang"], created_by=users["rep.wang"], title="Prepare kick-off minutes",
             due_at=now - dt.timedelta(days=6), account_id=accounts["beijing"].id, status=TaskStatus.done,
             completed_at=now - dt.timedelta(days=7), version=1),
    ])
    await session.flush()
    return {"accounts": {k: a.id for k, a in accounts.items()}, "contacts": [c.id for c in contacts],
            "leads": [lead.id for lead in leads], "deal_accounts": deal_accounts,
            "regions": {a.id: a.region for a in accounts.values()}}


def _lead_row(org_id: uuid.UUID, *, owner: uuid.UUID | None, person: tuple[str, str, str], company: str, region: str | None,
              size: int | None, source: str, campaign: str | None, interest: str | None, status: LeadStatus,
              created: dt.datetime, responded: dt.datetime | None, reason: str | None = None) -> dict[str, Any]:
    first, last, local = person
    email = f"{local}@lead.example"
    return {
        "id": new_id(), "org_id": org_id, "owner_id": owner, "first_name": first, "last_name": last, "email": email,
        "email_normalized": normalize_email(email)[0], "phone": None, "phone_normalized": None, "company": company,
        "company_normalized": normalize_company(company), "company_size": size, "region": region,
        "product_interest": interest, "source": source, "campaign": campaign, "status": status,
        "disqualify_reason": reason, "created_at": created, "updated_at": responded or created,
        "assigned_at": created if owner else None, "first_response_at": responded, "version": 1,
    }


def _first_contact(lead: dict[str, Any]) -> dict[str, Any]:
    """The activity whose logging stamped the lead's first_response_at."""
    return {"id": new_id(), "org_id": lead["org_id"], "owner_id": lead["owner_id"], "kind": ActivityKind.call,
            "subject": "首次电话 first call", "occurred_at": lead["first_response_at"], "duration_minutes": 10,
            "lead_id": lead["id"], "version": 1}


def _source(rng: random.Random) -> tuple[str, str | None]:
    source = rng.choices(["web_form", "event", "social", "hotline", "referral", "visit"], weights=[5, 3, 3, 2, 1, 1])[0]
    return source, rng.choice(CAMPAIGNS[source]) if source in CAMPAIGNS else None


async def _other_leads(session: AsyncSession, rng: random.Random, org_id: uuid.UUID, users: dict[str, uuid.UUID],
                       now: dt.datetime) -> None:
    """A year of leads that did not (yet) become deals: most older ones disqualified or being
    nurtured, recent ones still being worked. Each contacted one has its first call."""
    rows = []
    for n in range(OTHER_LEADS):
        age = rng.uniform(2, 365)
        created = now - dt.timedelta(days=age)
        region = rng.choice(["East China", "North China", "South China", "West China"])
        owner = users[rng.choice(REGION_REPS.get(region, ALL_REPS))]
        source, campaign = _source(rng)
        roll = rng.random()
        status = (LeadStatus.disqualified if roll < 0.6 else LeadStatus.contacted if roll < 0.85 else LeadStatus.qualified) \
            if age > 30 else rng.choice([LeadStatus.contacted, LeadStatus.qualified])
        rows.append(_lead_row(
            org_id, owner=owner, person=_person(rng, 1000 + n), company=rng.choice(LEAD_COMPANIES), region=region,
            size=int(rng.lognormvariate(math.log(200), 1.0)), source=source, campaign=campaign,
            interest=rng.choice(INTERESTS), status=status, created=created,
            responded=created + dt.timedelta(minutes=rng.lognormvariate(math.log(45), 0.9)),
            reason=rng.choice(DISQUALIFY_REASONS) if status is LeadStatus.disqualified else None))
    await insert_rows(session, Lead, rows)
    await insert_rows(session, Activity, [_first_contact(r) for r in rows])


async def convert_demo_leads(session: AsyncSession, *, org_id: uuid.UUID, deals: Sequence[DemoDeal],
                             regions: dict[uuid.UUID, str | None]) -> dict[uuid.UUID, uuid.UUID]:
    """A lead behind each deal, converted into it through the lead conversion service at the
    deal's creation (so converted_at, the opportunity's lead_id and the conversion event are
    the service's own); returns planned deal id -> the opportunity the conversion created."""
    rng = random.Random(SEED + 1)
    rows = []
    for n, deal in enumerate(deals):
        created = deal.created - dt.timedelta(hours=min(24 * 60, rng.lognormvariate(math.log(96), 0.9)))
        responded = min(deal.created, created + dt.timedelta(minutes=rng.lognormvariate(math.log(45), 0.9)))
        rows.append(_lead_row(
            org_id, owner=deal.owner_id, person=_person(rng, 5000 + n), company=deal.account_name,
            region=regions.get(deal.account_id), size=None, source=deal.source,
            campaign=rng.choice(CAMPAIGNS[deal.source]) if deal.source in CAMPAIGNS else None,
            interest=rng.choice(INTERESTS), status=LeadStatus.qualified, created=created, responded=responded))
    await insert_rows(session, Lead, rows)
    await insert_rows(session, Activity, [_first_contact(r) for r in rows])
    await scoring.rescore(session, org_id)
    principal = system_principal(org_id)
    converted: dict[uuid.UUID, uuid.UUID] = {}
    for deal, lead in zip(deals, rows, strict=True):
        result = await convert(session, principal, lead["id"], ConvertRequest(
            account_id=deal.account_id, opportunity_name=deal.name, amount=deal.amount, currency="CNY",
            expected_close_date=deal.expected_close_date.isoformat()), if_match=None, at=deal.created)
        converted[deal.id] = result["opportunity_id"]
    # The person became a contact when the lead converted, not when the demo was loaded.
    await session.execute(update(Contact).where(Contact.org_id == org_id, Contact.id == Lead.converted_contact_id)
                          .values(created_at=Lead.converted_at, updated_at=Lead.converted_at))
    return converted
