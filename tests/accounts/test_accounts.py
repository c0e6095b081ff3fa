"""Accounts and contacts CRUD, the account timeline (360 view) and A/B/C value classes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
from sqlalchemy import select, update

from app.accounts.value import classify_accounts
from app.core.ids import new_id
from app.identity.models import Role
from app.pipelines.models import (
    Opportunity,
    OpportunityStatus,
    StageTransition,
    TransitionKind,
)
from tests.support.crm_data import events, lead_body, make_pipeline, stages_of
from tests.support.factories import Tenant


async def test_account_and_contact_crud(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    r = await client.post("/v1/accounts", json={"name": "深圳电子有限公司", "industry": "Electronics", "size": 900,
                                                "region": "South China", "tier": "key", "lifecycle": "prospect"}, headers=h)
    assert r.status_code == 201, r.text
    acc = r.json()
    assert acc["value_class"] is None and acc["won_amount_12m"] == "0.00"
    r = await client.patch(f"/v1/accounts/{acc['id']}", json={"lifecycle": "customer"}, headers={**h, "If-Match": '"1"'})
    assert r.json()["lifecycle"] == "customer" and r.headers["ETag"] == '"2"'
    assert (await client.patch(f"/v1/accounts/{acc['id']}", json={"tier": "x"}, headers={**h, "If-Match": '"1"'})).status_code == 412
    assert (await client.patch(f"/v1/accounts/{acc['id']}", json={"size": "900"}, headers=h)).status_code == 422
    found = (await client.get("/v1/accounts", params={"q": "深圳"}, headers=h)).json()["items"]
    assert [a["id"] for a in found] == [acc["id"]]
    c = await client.post("/v1/contacts", json={"last_name": "陈", "first_name": "静", "account_id": acc["id"],
                                                "phone": "0755-8888 6666", "email": "Chen@SZ.example"}, headers=h)
    assert c.status_code == 201 and c.json()["phone_normalized"] == "+8675588886666"
    assert [x["id"] for x in (await client.get("/v1/contacts", params={"account_id": acc["id"]}, headers=h)).json()["items"]] == [c.json()["id"]]
    bad = await client.post("/v1/contacts", json={"last_name": "x", "account_id": str(new_id())}, headers=h)
    assert bad.status_code == 422
    rep = await tenant.add_user(Role.rep)
    assert (await client.get(f"/v1/accounts/{acc['id']}", headers=rep.headers)).status_code == 404
    assert (await client.delete(f"/v1/contacts/{c.json()['id']}", headers=h)).status_code == 204
    assert (await client.delete(f"/v1/accounts/{acc['id']}", headers=h)).status_code == 204
    assert [e.type for e in await events(tenant.session, tenant.id)][-2:] == ["contact.deleted", "account.deleted"]


async def test_timeline_is_one_chronological_paginated_stream(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    pipeline = await make_pipeline(tenant.session, tenant.id)
    stages = await stages_of(tenant.session, pipeline.id)
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    conv = (await client.post(f"/v1/leads/{lead['id']}/convert", json={"amount": "5000.00"}, headers=h)).json()
    acc_id, opp_id = conv["account_id"], conv["opportunity_id"]
    base = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    await client.post("/v1/activities", json={"kind": "visit", "subject": "拜访客户", "account_id": acc_id,
                                              "occurred_at": (base + dt.timedelta(minutes=1)).isoformat()}, headers=h)
    await client.post("/v1/activities", json={"kind": "call", "subject": "Call the contact", "contact_id": conv["contact_id"],
                                              "occurred_at": (base + dt.timedelta(minutes=2)).isoformat()}, headers=h)
    tenant.session.add(StageTransition(org_id=tenant.id, opportunity_id=opp_id, kind=TransitionKind.advanced,
                                       from_stage_id=stages[0].id, to_stage_id=stages[1].id, from_pipeline_id=pipeline.id,
                                       to_pipeline_id=pipeline.id, actor_id=tenant.admin.id,
                                       occurred_at=base + dt.timedelta(minutes=3)))
    await client.post("/v1/activities", json={"kind": "proposal", "subject": "Proposal sent", "opportunity_id": opp_id,
                                              "occurred_at": (base + dt.timedelta(minutes=4)).isoformat()}, headers=h)
    await client.post("/v1/activities", json={"kind": "note", "subject": "Before converting", "lead_id": lead["id"],
                                              "occurred_at": (base - dt.timedelta(days=1)).isoformat()}, headers=h)
    other = (await client.post("/v1/leads", json=lead_body(email="li@example.cn", phone=None, company="Other"),
                               headers=h)).json()  # never converted here
    await client.post("/v1/activities", json={"kind": "note", "subject": "unrelated", "lead_id": other["id"]}, headers=h)
    await tenant.session.flush()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/accounts/{acc_id}/timeline", params=params, headers=h)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [(e["kind"], e["title"]) for e in seen[:4]] == [
        ("activity", "Proposal sent"), ("stage_changed", seen[1]["title"]), ("activity", "Call the contact"),
        ("activity", "拜访客户")]
    assert seen[1]["detail"]["to_stage"] == "Needs analysis 需求分析"
    # The conversion and the opportunity it created (same moment), then the lead's own history.
    created, converted = sorted(seen[4:6], key=lambda e: e["kind"] != "opportunity_created")
    assert created["kind"] == "opportunity_created" and created["detail"]["amount"] == 5000
    assert converted["kind"] == "lead_converted" and converted["id"] == lead["id"]
    assert (converted["opportunity_id"], converted["contact_id"]) == (opp_id, conv["contact_id"])
    assert converted["detail"]["source"] == lead["source"]
    assert [(e["kind"], e["title"]) for e in seen[6:]] == [("activity", "Before converting")]
    # A deleted deal leaves the stream with its stage changes and its own activities.
    assert (await client.delete(f"/v1/opportunities/{opp_id}", headers=h)).status_code == 204
    left = (await client.get(f"/v1/accounts/{acc_id}/timeline", headers=h)).json()["items"]
    assert [e["kind"] for e in left] == ["activity", "activity", "lead_converted", "activity"]
    assert [e["title"] for e in left if e["kind"] == "activity"] == ["Call the contact", "拜访客户", "Before converting"]


async def test_value_classes_follow_pareto(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    pipeline = await make_pipeline(tenant.session, tenant.id)
    stage = (await stages_of(tenant.session, pipeline.id))[3]
    amounts = {"Big": "800", "Mid": "150", "Small": "50", "Old": "900", "None": None}
    ids = {}
    for name, amount in amounts.items():
        acc = (await client.post("/v1/accounts", json={"name": name}, headers=h)).json()
        ids[name] = acc["id"]
        if amount:
            closed = dt.datetime.now(dt.UTC) - (dt.timedelta(days=500) if name == "Old" else dt.timedelta(days=30))
            tenant.session.add(Opportunity(
                org_id=tenant.id, name=name, owner_id=tenant.admin.id, account_id=acc["id"], pipeline_id=pipeline.id,
                stage_id=stage.id, stage_entered_at=closed, status=OpportunityStatus.won, amount=Decimal(amount),
                currency="CNY", closed_at=closed, version=1))
    await tenant.session.flush()
    assert await classify_accounts(tenant.session, None, max_age_minutes=0) >= 5
    got = {n: (await client.get(f"/v1/accounts/{i}", headers=h)).json() for n, i in ids.items()}
    assert {n: a["value_class"] for n, a in got.items()} == {"Big": "A", "Mid": "B", "Small": "C", "Old": "C", "None": "C"}
    assert got["Big"]["won_amount_12m"] == "800.00"
    changed = await events(tenant.session, tenant.id, "account.value_class_changed")
    assert len(changed) == 5
    await tenant.session.execute(update(Opportunity).where(Opportunity.name == "Small").values(amount=Decimal("5000")))
    await classify_accounts(tenant.session, None, max_age_minutes=0)
    assert (await client.get(f"/v1/accounts/{ids['Small']}", headers=h)).json()["value_class"] == "A"
    # A deleted deal is no revenue: the account it was won for drops to C.
    small = (await tenant.session.execute(select(Opportunity.id).where(Opportunity.name == "Small"))).scalar_one()
    assert (await client.delete(f"/v1/opportunities/{small}", headers=h)).status_code == 204
    await classify_accounts(tenant.session, None, max_age_minutes=0)
    after = (await client.get(f"/v1/accounts/{ids['Small']}", headers=h)).json()
    assert (after["value_class"], after["won_amount_12m"]) == ("C", "0.00")


async def test_a_contact_joins_only_an_account_the_caller_can_see(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a, b = await tenant.add_user(Role.rep), await tenant.add_user(Role.rep)
    account = (await client.post("/v1/accounts", json={"name": "A's account"}, headers=a.headers)).json()
    hidden = await client.post("/v1/contacts", json={"last_name": "x", "account_id": account["id"]}, headers=b.headers)
    missing = await client.post("/v1/contacts", json={"last_name": "x", "account_id": str(new_id())}, headers=b.headers)
    assert hidden.status_code == missing.status_code == 422
    same = [{k: v for k, v in r.json().items() if k not in ("request_id", "instance")} for r in (hidden, missing)]
    assert same[0] == same[1]
    mine = (await client.post("/v1/contacts", json={"last_name": "y"}, headers=b.headers)).json()
    r = await client.patch(f"/v1/contacts/{mine['id']}", json={"account_id": account["id"]}, headers=b.headers)
    assert r.status_code == 422
    assert (await client.get(f"/v1/contacts/{mine['id']}", headers=b.headers)).json()["account_id"] is None
    assert (await client.get("/v1/contacts", params={"account_id": account["id"]}, headers=tenant.admin.headers)).json()["items"] == []
    # The account's owner attaches contacts to it.
    assert (await client.post("/v1/contacts", json={"last_name": "z", "account_id": account["id"]}, headers=a.headers)).status_code == 201
