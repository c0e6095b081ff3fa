"""Demo data for leads, accounts, contacts, activities and tasks (`crm seed-demo`).

Called from app/seed.py after the organisation and its people exist. Returns the accounts
by key so the pipelines demo can attach its deals to them (linked at merge).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact, Lifecycle
from app.activities.models import Activity, ActivityKind, Task, TaskStatus
from app.leads import scoring
from app.leads.models import AssignmentRule, Lead, LeadStatus, ScoringRule
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer

ACCOUNTS = [
    # key, name, industry, size, region, tier, lifecycle, owner
    ("huadong", "上海华东机械有限公司", "Machinery 机械", 1200, "East China", "strategic", Lifecycle.customer, "rep.chen"),
    ("shenzhen", "深圳创新电子股份有限公司", "Electronics 电子", 650, "South China", "key", Lifecycle.customer, "rep.liu"),
    ("beijing", "Beijing Northstar Logistics Co., Ltd.", "Logistics 物流", 300, "North China", "standard", Lifecycle.prospect, "rep.wang"),
    ("tianjin", "天津港湾贸易有限公司", "Trading 贸易", 90, "North China", "standard", Lifecycle.prospect, "rep.zhao"),
    ("hangzhou", "Hangzhou Westlake Foods Inc", "Food 食品", 2200, "East China", "key", Lifecycle.churned, "rep.chen"),
]
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


async def seed_leads_demo(session: AsyncSession, *, org_id: uuid.UUID, users: dict[str, uuid.UUID],
                          teams: dict[str, uuid.UUID]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
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
    accounts: dict[str, Account] = {}
    for key, name, industry, size, region, tier, lifecycle, owner in ACCOUNTS:
        accounts[key] = Account(org_id=org_id, owner_id=users[owner], name=name, name_normalized=normalize_company(name) or name,
                                industry=industry, size=size, region=region, tier=tier, lifecycle=lifecycle, version=1)
    session.add_all(accounts.values())
    await session.flush()
    contacts: list[Contact] = []
    for key, first, last, email, tel, title in CONTACTS:
        account = accounts[key]
        contacts.append(Contact(org_id=org_id, owner_id=account.owner_id, account_id=account.id, first_name=first, last_name=last,
                                email=email, email_normalized=normalize_email(email)[0], phone=tel, phone_normalized=phone(tel)[0],
                                title=title, version=1))
    session.add_all(contacts)
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
            "leads": [lead.id for lead in leads]}
