"""Privacy: admins export everything held about a person and erase (anonymise) it, while
the deal figures stay."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import Role
from app.leads import importer
from app.pipelines.models import Opportunity
from tests.support.crm_data import events, lead_body, make_pipeline, stages_of
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


# A person nobody else in the test data shares a single string with.
PERSON = {"first_name": "Wilhelmina", "last_name": "Quattlebaum", "email": "w.quattlebaum@example.org",
          "phone": "139 1234 5678", "title": "Procurement 采购总监", "company": "上海华东机械有限公司", "source": "web_form"}
SECRETS = ("Wilhelmina", "Quattlebaum", "quattlebaum@example.org", "139 1234 5678", "13912345678", "采购总监")
# Every table a person's data can reach, as JSON text, scoped to the organisation.
PLACES = ("lead", "contact", "account", "opportunity", "stage_transition", "activity", "task", "event", "audit_entry",
          "lead_import_error")
# A spreadsheet row of the person that a lead import refuses: the error quotes the cell,
# with the person's email (and a second address nothing else knows) in it.
PERSON_CSV = ("first_name,last_name,email,phone,company\n"
              "Wilhelmina,Quattlebaum,w.quattlebaum@example.org; wq@home.example,,上海华东机械有限公司\n")


async def leftovers(session: AsyncSession, org_id: uuid.UUID, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Where any of `secrets` still occurs, searched with SQL in every row of every place
    (and in the stored idempotent responses), not through the API."""
    found = []
    for table in PLACES:
        rows = await session.execute(text(f"SELECT row_to_json(t)::text FROM {table} t WHERE org_id = :org"), {"org": org_id})
        found += [f"{table}: {s} in {row}" for (row,) in rows for s in secrets if s in row]
    rows = await session.execute(text("SELECT convert_from(response_body, 'UTF8') FROM idempotency_record "
                                      "WHERE org_id = :org AND response_body IS NOT NULL"), {"org": org_id})
    found += [f"idempotency_record: {s}" for (row,) in rows for s in secrets if s in row]
    return found


async def deal_figures(session: AsyncSession, org_id: uuid.UUID) -> list[Any]:
    """Opportunity amounts and stages, and the stage history, as the analytics read them."""
    opps = await session.execute(text("SELECT id, amount, currency, stage_id, lead_id FROM opportunity WHERE org_id = :org "
                                      "ORDER BY id"), {"org": org_id})
    moves = await session.execute(text("SELECT id, from_stage_id, to_stage_id, occurred_at FROM stage_transition "
                                       "WHERE org_id = :org ORDER BY id"), {"org": org_id})
    return [list(opps), list(moves)]


async def person_with_history(client: httpx.AsyncClient, tenant: Tenant, *, convert: bool) -> dict[str, Any]:
    """A lead created with an Idempotency-Key, edited, with an activity and a task that name
    the person; converted (and its deal moved a stage) when `convert`."""
    h = tenant.admin.headers
    body = {**PERSON, "title": None}
    created = await client.post("/v1/leads", json=body, headers={**h, "Idempotency-Key": "create-wq"})
    assert created.status_code == 201, created.text
    lead = created.json()
    r = await client.patch(f"/v1/leads/{lead['id']}", json={"title": PERSON["title"], "description": "met Wilhelmina"},
                           headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    for path, extra in (("/v1/activities", {"kind": "call", "subject": "Called Wilhelmina Quattlebaum"}),
                        ("/v1/tasks", {"title": "Send the quote", "due_at": "2030-01-01T09:00:00Z"})):
        r = await client.post(path, json={**extra, "body" if path == "/v1/activities" else "description":
                                          "w.quattlebaum@example.org / 139 1234 5678", "lead_id": lead["id"]}, headers=h)
        assert r.status_code == 201, r.text
    r = await client.post("/v1/lead-imports", content=PERSON_CSV.encode(), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    claimed = await importer.claim_next(tenant.app.state.db.sessionmaker, import_id=uuid.UUID(r.json()["id"]))
    assert claimed is not None
    await importer.process(tenant.app.state.db.sessionmaker, *claimed)  # what the worker's job does
    errors = (await client.get(f"/v1/lead-imports/{r.json()['id']}/errors", headers=h)).json()["items"]
    assert [e["code"] for e in errors] == ["bad_email"] and "w.quattlebaum@example.org" in errors[0]["message"]
    out: dict[str, Any] = {"lead": lead, "import_id": r.json()["id"]}
    if convert:
        pipeline = await make_pipeline(tenant.session, tenant.id)
        conv = await client.post(f"/v1/leads/{lead['id']}/convert", json={"amount": "250000.00"}, headers=h)
        assert conv.status_code == 200, conv.text
        out["conv"] = conv.json()
        r = await client.post("/v1/activities", json={"kind": "email", "subject": "Quote to w.quattlebaum@example.org",
                                                      "contact_id": out["conv"]["contact_id"]}, headers=h)
        assert r.status_code == 201, r.text
        stages = await stages_of(tenant.session, pipeline.id)
        r = await client.post(f"/v1/opportunities/{out['conv']['opportunity_id']}/transitions",
                              json={"to_stage_id": str(stages[1].id)}, headers=h)
        assert r.status_code == 201, r.text
    # The search finds the person before erasure, the import's row error too.
    assert any(place.startswith("lead_import_error:") for place in await leftovers(tenant.session, tenant.id))
    return out


async def assert_nothing_left(client: httpx.AsyncClient, tenant: Tenant, exports: list[str]) -> None:
    left = await leftovers(tenant.session, tenant.id)
    assert left == [], left
    for url in exports:
        export = await client.get(url, headers=tenant.admin.headers)
        assert export.status_code == 200
        assert not [s for s in SECRETS if s in export.text], url
    # A retry of the creating request must not replay the stored response with the person in it;
    # nor may it create the lead again.
    retry = await client.post("/v1/leads", json={**PERSON, "title": None},
                              headers={**tenant.admin.headers, "Idempotency-Key": "create-wq"})
    assert retry.status_code == 409 and retry.json()["code"] == "idempotency-response-unavailable", retry.text
    assert not [s for s in SECRETS if s in retry.text]
    # The import's report still counts the refused row, without the cell it quoted.
    for imported in (await client.get("/v1/lead-imports", headers=tenant.admin.headers)).json()["items"]:
        errors = (await client.get(f"/v1/lead-imports/{imported['id']}/errors", headers=tenant.admin.headers)).json()
        assert [(e["code"], e["message"]) for e in errors["items"]] == [("bad_email", "[erased]")]
        assert "wq@home.example" not in json.dumps(errors)


async def test_erasing_a_converted_lead_erases_its_contact_and_leaves_nothing(client: httpx.AsyncClient,
                                                                                tenant: Tenant) -> None:
    made = await person_with_history(client, tenant, convert=True)
    lead, conv = made["lead"], made["conv"]
    figures = await deal_figures(tenant.session, tenant.id)
    r = await client.post(f"/v1/leads/{lead['id']}/erase", headers=tenant.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "converted" and r.json()["converted_contact_id"] == conv["contact_id"]
    contact = (await client.get(f"/v1/contacts/{conv['contact_id']}", headers=tenant.admin.headers)).json()
    assert contact["email"] is None and contact["last_name"] == "[erased]" and contact["erased_at"]
    await assert_nothing_left(client, tenant, [f"/v1/leads/{lead['id']}/personal-data",
                                               f"/v1/contacts/{conv['contact_id']}/personal-data"])
    assert await deal_figures(tenant.session, tenant.id) == figures
    assert str(figures[0][0].amount) == "250000.00" and len(figures[1]) == 2  # created + the move
    assert {e.type for e in await events(tenant.session, tenant.id)} >= {"lead.erased", "contact.erased"}


async def test_erasing_a_contact_also_scrubs_its_leads_history(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = await person_with_history(client, tenant, convert=True)
    figures = await deal_figures(tenant.session, tenant.id)
    r = await client.post(f"/v1/contacts/{made['conv']['contact_id']}/erase", headers=tenant.admin.headers)
    assert r.status_code == 200, r.text
    await assert_nothing_left(client, tenant, [f"/v1/leads/{made['lead']['id']}/personal-data",
                                               f"/v1/contacts/{made['conv']['contact_id']}/personal-data"])
    assert await deal_figures(tenant.session, tenant.id) == figures


async def test_erasing_a_merged_duplicate_takes_its_data_out_of_the_survivor(client: httpx.AsyncClient,
                                                                             tenant: Tenant) -> None:
    """The survivor filled its empty phone and title from the duplicate; after erasing the
    duplicate those are gone too, while the survivor's own data stays."""
    h = tenant.admin.headers
    keep = (await client.post("/v1/leads", json=lead_body(phone=None), headers=h)).json()
    made = await person_with_history(client, tenant, convert=False)
    dup = made["lead"]
    r = await client.post(f"/v1/leads/{keep['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == PERSON["phone"] and r.json()["title"] == PERSON["title"]
    # Later snapshots of the survivor (events, audit) hold the taken-over values too.
    r = await client.patch(f"/v1/leads/{keep['id']}", json={"status": "qualified"}, headers=h)
    assert r.status_code == 200, r.text
    r = await client.post(f"/v1/leads/{dup['id']}/erase", headers=h)
    assert r.status_code == 200, r.text
    await assert_nothing_left(client, tenant, [f"/v1/leads/{dup['id']}/personal-data",
                                               f"/v1/leads/{keep['id']}/personal-data"])
    survivor = (await client.get(f"/v1/leads/{keep['id']}", headers=h)).json()
    assert survivor["email"] == "zhang.wei@example.cn" and survivor["last_name"] == "张"
    assert survivor["phone"] is None and survivor["title"] is None
    merged = (await events(tenant.session, tenant.id, "lead.merged"))[0].payload
    assert merged["merged"]["id"] == dup["id"] and merged["lead"]["email"] == "zhang.wei@example.cn"


async def test_erasing_a_survivor_erases_the_leads_merged_into_it(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """A merge says both records are the one person: erasing the survivor erases both."""
    h = tenant.admin.headers
    made = await person_with_history(client, tenant, convert=False)
    twin = await client.post("/v1/leads?allow_duplicates=true", json={**PERSON, "phone": None}, headers=h)
    assert twin.status_code == 201, twin.text
    survivor = made["lead"]
    r = await client.post(f"/v1/leads/{survivor['id']}/merge", json={"duplicate_id": twin.json()["id"]}, headers=h)
    assert r.status_code == 200, r.text
    assert (await client.post(f"/v1/leads/{survivor['id']}/erase", headers=h)).status_code == 200
    assert (await client.get(f"/v1/leads/{twin.json()['id']}", headers=h)).json()["erased_at"]
    await assert_nothing_left(client, tenant, [f"/v1/leads/{survivor['id']}/personal-data",
                                               f"/v1/leads/{twin.json()['id']}/personal-data"])
