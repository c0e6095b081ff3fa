"""Privacy: admins export everything held about a person and erase (anonymise) it, while
the deal figures stay."""

from __future__ import annotations

import json

import httpx

from app.identity.models import Role
from app.pipelines.models import Opportunity
from tests.support.crm_data import events, lead_body, make_pipeline
from tests.support.factories import Tenant


async def test_export_and_erase_a_lead(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    await client.post("/v1/activities", json={"kind": "call", "subject": "Called 张伟", "body": "his mobile 13800138000",
                                              "lead_id": lead["id"]}, headers=h)
    export = await client.get(f"/v1/leads/{lead['id']}/personal-data", headers=h)
    assert export.status_code == 200
    data = export.json()
    assert data["subject"]["email"] == "zhang.wei@example.cn"
    assert data["activities"][0]["body"] == "his mobile 13800138000"
    assert {e["type"] for e in data["events"]} >= {"lead.created"} and data["audit"]
    rep = await tenant.add_user(Role.manager)
    assert (await client.get(f"/v1/leads/{lead['id']}/personal-data", headers=rep.headers)).status_code == 403
    r = await client.post(f"/v1/leads/{lead['id']}/erase", headers=h)
    assert r.status_code == 200
    erased = r.json()
    assert erased["email"] is None and erased["phone"] is None and erased["first_name"] is None and erased["erased_at"]
    assert erased["source"] == "web_form" and erased["created_at"] == lead["created_at"]
    after = json.dumps((await client.get(f"/v1/leads/{lead['id']}/personal-data", headers=h)).json(), ensure_ascii=False)
    for secret in ("zhang.wei@example.cn", "13800138000", "张伟"):
        assert secret not in after, secret
    everything = json.dumps([e.payload for e in await events(tenant.session, tenant.id)], ensure_ascii=False)
    assert "zhang.wei@example.cn" not in everything and "13800138000" not in everything


async def test_erasing_a_contact_keeps_the_deal_figures(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    await make_pipeline(tenant.session, tenant.id)
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    conv = (await client.post(f"/v1/leads/{lead['id']}/convert", json={"amount": "1000.00"}, headers=h)).json()
    r = await client.post(f"/v1/contacts/{conv['contact_id']}/erase", headers=h)
    assert r.status_code == 200 and r.json()["email"] is None and r.json()["last_name"] == "[erased]"
    # The lead it came from is the same person: erased too; the deal is untouched.
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["email"] is None
    opp = await tenant.session.get(Opportunity, conv["opportunity_id"])
    assert opp is not None and str(opp.amount) == "1000.00"
    assert (await client.get(f"/v1/accounts/{conv['account_id']}", headers=h)).status_code == 200
    export = (await client.get(f"/v1/contacts/{conv['contact_id']}/personal-data", headers=h)).json()
    assert "zhang.wei" not in json.dumps(export)
