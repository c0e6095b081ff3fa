"""Conversion: account (created or linked), contact and an opportunity in the pipeline's
first stage, in one transaction, recorded on the lead."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.identity.models import Role
from app.pipelines.models import Opportunity, StageInterval, StageTransition
from tests.support.crm_data import events, lead_body, make_pipeline, stages_of
from tests.support.factories import Tenant


async def test_convert_creates_account_contact_and_opportunity(client: httpx.AsyncClient, tenant: Tenant) -> None:
    pipeline = await make_pipeline(tenant.session, tenant.id)
    first_stage = (await stages_of(tenant.session, pipeline.id))[0]
    rep = await tenant.add_user(Role.rep)
    lead = (await client.post("/v1/leads", json=lead_body(product_interest="CNC"), headers=rep.headers)).json()
    r = await client.post(f"/v1/leads/{lead['id']}/convert", json={"amount": "250000.00", "currency": "cny",
                                                                   "opportunity_name": "华东机械 - 50 CNC"},
                          headers={**rep.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["account_created"] is True and out["stage_id"] == str(first_stage.id)
    assert out["lead"]["status"] == "converted" and out["lead"]["converted_at"]
    assert out["lead"]["converted_opportunity_id"] == out["opportunity_id"]
    account = (await client.get(f"/v1/accounts/{out['account_id']}", headers=rep.headers)).json()
    assert account["name"] == "上海华东机械有限公司" and account["owner_id"] == str(rep.id)
    contact = (await client.get(f"/v1/contacts/{out['contact_id']}", headers=rep.headers)).json()
    assert contact["account_id"] == out["account_id"] and contact["email"] == "zhang.wei@example.cn"
    opp = await tenant.session.get(Opportunity, out["opportunity_id"])
    assert opp is not None and str(opp.amount) == "250000.00" and opp.currency == "CNY"
    assert opp.lead_id is not None and str(opp.account_id) == out["account_id"] and opp.owner_id == rep.id
    deal = (await client.get(f"/v1/opportunities/{out['opportunity_id']}", headers=rep.headers)).json()
    assert deal["lead_id"] == lead["id"] and deal["account_id"] == out["account_id"] and deal["source"] == lead["source"]
    created = (await events(tenant.session, tenant.id, "opportunity.created"))[0].payload
    assert created["opportunity"]["lead_id"] == lead["id"]
    intervals = list(await tenant.session.scalars(select(StageInterval).where(StageInterval.opportunity_id == opp.id)))
    transitions = list(await tenant.session.scalars(select(StageTransition).where(StageTransition.opportunity_id == opp.id)))
    assert [i.exited_at for i in intervals] == [None] and [t.kind.value for t in transitions] == ["created"]
    ev = (await events(tenant.session, tenant.id, "lead.converted"))[0].payload
    assert ev["opportunity_id"] == out["opportunity_id"] and ev["seconds_to_convert"] >= 0
    again = await client.post(f"/v1/leads/{lead['id']}/convert", json={}, headers=rep.headers)
    assert again.status_code == 409


async def test_convert_links_an_existing_account_and_chosen_pipeline(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    await make_pipeline(tenant.session, tenant.id)
    other = await make_pipeline(tenant.session, tenant.id, default=False, name="Projects 项目")
    account = (await client.post("/v1/accounts", json={"name": "Existing Corp"}, headers=h)).json()
    lead = (await client.post("/v1/leads", json=lead_body(company=None, last_name="Solo"), headers=h)).json()
    no_owner = await client.post(f"/v1/leads/{lead['id']}/convert", json={"account_id": account["id"]}, headers=h)
    assert no_owner.status_code == 200  # the admin converting an unassigned lead becomes its owner
    out = no_owner.json()
    assert out["account_id"] == account["id"] and out["account_created"] is False
    lead2 = (await client.post("/v1/leads", json=lead_body(email="b@x.example", phone=None, company=None), headers=h)).json()
    r = await client.post(f"/v1/leads/{lead2['id']}/convert", json={"pipeline_id": str(other.id)}, headers=h)
    assert r.status_code == 422  # no company and no account_id
    r = await client.post(f"/v1/leads/{lead2['id']}/convert", json={"pipeline_id": str(other.id), "account_id": account["id"]}, headers=h)
    assert r.json()["pipeline_id"] == str(other.id)
    assert (await client.get(f"/v1/leads/{lead2['id']}", headers=h)).json()["status"] == "converted"


async def test_failed_conversion_changes_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    # The account and contact are written before the deal; an unknown pipeline fails the
    # deal, and the whole conversion rolls back with it.
    r = await client.post(f"/v1/leads/{lead['id']}/convert", json={"pipeline_id": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 404
    assert r.json()["code"] == "pipeline-not-found"
    assert (await client.get("/v1/accounts", headers=h)).json()["items"] == []
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["status"] == "new"
    disq = await client.post(f"/v1/leads/{lead['id']}/disqualify", json={"reason": "spam"}, headers=h)
    assert disq.status_code == 200
    await make_pipeline(tenant.session, tenant.id)
    assert (await client.post(f"/v1/leads/{lead['id']}/convert", json={}, headers=h)).status_code == 409


async def test_convert_refuses_a_close_date_out_of_range(client: httpx.AsyncClient, tenant: Tenant) -> None:
    lead = (await client.post("/v1/leads", json=lead_body(), headers=tenant.admin.headers)).json()
    for day in ("9999-12-31", "0001-01-01"):
        r = await client.post(f"/v1/leads/{lead['id']}/convert", json={"expected_close_date": day}, headers=tenant.admin.headers)
        assert r.status_code == 422 and "between 1900-01-01 and 2200-12-31" in r.text, r.text
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=tenant.admin.headers)).json()["status"] == "new"


async def test_convert_reuses_the_person_when_already_a_contact(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await make_pipeline(tenant.session, tenant.id)
    h = tenant.admin.headers
    loose = (await client.post("/v1/contacts", json={"last_name": "张", "email": "Zhang.Wei@Example.cn"}, headers=h)).json()
    lead = (await client.post("/v1/leads?allow_duplicates=true", json=lead_body(), headers=h)).json()
    out = (await client.post(f"/v1/leads/{lead['id']}/convert", json={}, headers=h)).json()
    assert (out["contact_id"], out["contact_created"]) == (loose["id"], False)
    linked = (await client.get(f"/v1/contacts/{loose['id']}", headers=h)).json()
    assert linked["account_id"] == out["account_id"] and linked["version"] == 2
    assert (await events(tenant.session, tenant.id, "lead.converted"))[0].payload["contact_created"] is False

    # The same person at another company's account is a different contact record.
    elsewhere = (await client.post("/v1/accounts", json={"name": "Elsewhere Ltd"}, headers=h)).json()
    second = (await client.post("/v1/leads?allow_duplicates=true", json=lead_body(), headers=h)).json()
    out2 = (await client.post(f"/v1/leads/{second['id']}/convert", json={"account_id": elsewhere["id"]},
                              headers=h)).json()
    assert out2["contact_created"] is True and out2["contact_id"] != loose["id"]
    contacts = (await client.get("/v1/contacts", params={"account_id": elsewhere["id"]}, headers=h)).json()["items"]
    assert [c["id"] for c in contacts] == [out2["contact_id"]]


async def test_a_rep_never_reaches_another_reps_account(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await make_pipeline(tenant.session, tenant.id)
    rep_a, rep_b = await tenant.add_user(Role.rep), await tenant.add_user(Role.rep)
    theirs = (await client.post("/v1/accounts", json={"name": "上海华东机械有限公司"}, headers=rep_a.headers)).json()
    lead = (await client.post("/v1/leads", json=lead_body(), headers=rep_b.headers)).json()
    out = (await client.post(f"/v1/leads/{lead['id']}/convert", json={}, headers=rep_b.headers)).json()
    assert out["account_created"] is True and out["account_id"] != theirs["id"]
    assert (await client.get(f"/v1/accounts/{out['account_id']}", headers=rep_b.headers)).json()["owner_id"] == str(rep_b.id)
    # Nor can a deal be put on it: the same 422 as for an account that does not exist.
    hidden = await client.post("/v1/opportunities", json={"name": "x", "account_id": theirs["id"]}, headers=rep_b.headers)
    unknown = await client.post("/v1/opportunities", json={"name": "x", "account_id": str(uuid.uuid4())},
                                headers=rep_b.headers)
    assert hidden.status_code == unknown.status_code == 422 and hidden.json()["detail"] == unknown.json()["detail"]
    moved = await client.patch(f"/v1/opportunities/{out['opportunity_id']}", json={"account_id": theirs["id"]},
                               headers=rep_b.headers)
    assert moved.status_code == 422
    assert (await client.get(f"/v1/accounts/{theirs['id']}/timeline", headers=rep_a.headers)).json()["items"] == []
