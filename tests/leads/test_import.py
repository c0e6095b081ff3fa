"""Bulk CSV import: a background job resource with progress, counts and per-row errors."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.db import Database
from app.identity.models import Role
from app.leads import importer, scoring
from app.leads.models import Lead
from tests.support.crm_data import events, lead_body
from tests.support.factories import Actor, Tenant

CSV = """first_name,last_name,email,phone,company,company_size,source,campaign,owner_email,extra
伟,张,zhang.wei@example.cn,138 0013 8000,华东机械有限公司,800,referral,Expo,{rep},ignored
Lei,Zhao,not-an-email,,North Steel,,event,Expo,,
Min,Wang,wang@example.com,12,Acme,,event,,,
Jing,Chen,chen@example.com,,深圳电子,,event,,nobody@example.com,
Fang,Wang,ZHANG.WEI@example.cn,,Dup Co,,event,,,
Yang,Liu,existing@example.com,,Old Co,,web_form,,,
Lei,Zhao,zhao2@example.com,13900139000,North Steel,lots,event,,,
Li,Na,na@example.com,+86 139-0013-9001,Li Co,,fax,,,
,,,,,,,,,
Hui,Sun,sun@example.com,13900139002,Sun Co,,,,,
"""


async def _process(app: FastAPI, import_id: str, chunk_rows: int = 3) -> None:
    claimed = await importer.claim_next(app.state.db.sessionmaker, import_id=uuid.UUID(import_id))
    assert claimed is not None
    await importer.process(app.state.db.sessionmaker, *claimed, chunk_rows=chunk_rows)


async def test_import_reports_progress_counts_and_row_errors(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    rep = await tenant.add_user(Role.rep)
    await client.post("/v1/lead-scoring-rules", json={"name": "Referral", "field": "source", "operator": "eq",
                                                      "value": "referral", "points": 20}, headers=h)
    existing = await client.post("/v1/leads", json=lead_body(email="existing@example.com", phone=None), headers=h)
    assert existing.status_code == 201
    body = CSV.format(rep=rep.user.email.upper()).encode()
    r = await client.post("/v1/lead-imports?filename=expo.csv", content=body, headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and r.headers["Location"] == f"/v1/lead-imports/{job['id']}"
    await _process(app, job["id"])  # what the worker's lead-imports job does
    done = (await client.get(f"/v1/lead-imports/{job['id']}", headers=h)).json()
    assert done["status"] == "completed", done
    assert (done["total_rows"], done["processed_rows"]) == (10, 10)
    assert (done["created_count"], done["duplicate_count"], done["error_count"]) == (2, 2, 6)
    errors = (await client.get(f"/v1/lead-imports/{job['id']}/errors", headers=h)).json()["items"]
    assert [(e["row_number"], e["code"]) for e in errors] == [
        (2, "bad_email"), (3, "bad_phone"), (4, "unknown_owner"), (5, "duplicate"), (6, "duplicate"),
        (7, "bad_company_size"), (8, "bad_source"), (9, "missing_name")]
    assert errors[4]["duplicate_of"] == existing.json()["id"]
    leads = {x["email"]: x for x in (await client.get("/v1/leads", headers=h)).json()["items"]}
    first = leads["zhang.wei@example.cn"]
    # Row 5 repeats row 1's email (another chunk of 3 rows): a duplicate of the lead row 1 made.
    assert (errors[3]["message"], errors[3]["duplicate_of"]) == ("Email repeats row 1", first["id"])
    assert first["owner_id"] == str(rep.id) and first["score"] == 20 and first["grade"] == "C"
    assert first["phone_normalized"] == "+8613800138000" and first["import_id"] == job["id"]
    assert leads["sun@example.com"]["source"] == "import" and leads["sun@example.com"]["owner_id"] is None
    completed = await events(tenant.session, tenant.id, "lead_import.completed")
    assert completed[0].payload["created"] == 2


async def test_repeats_within_a_chunk_are_duplicates(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    csv_text = "last_name,email,phone\nA,a@x.example,\nB,b@x.example,13800138000\nC,A@X.example,\nD,,138-0013-8000\n"
    r = await client.post("/v1/lead-imports", content=csv_text.encode(), headers=h)
    await _process(app, r.json()["id"], chunk_rows=100)
    errors = (await client.get(f"/v1/lead-imports/{r.json()['id']}/errors", headers=h)).json()["items"]
    assert [(e["row_number"], e["message"]) for e in errors] == [(3, "Email repeats row 1"), (4, "Phone repeats row 2")]
    # duplicate_of names the lead the first row made, as it does for a repeat in a later chunk.
    ids = {x["last_name"]: x["id"] for x in (await client.get("/v1/leads", headers=h)).json()["items"]}
    assert [e["duplicate_of"] for e in errors] == [ids["A"], ids["B"]]


@pytest.mark.parametrize(("chunk_rows", "fork"), [(1, True), (100, True), (1, False), (100, False)])
async def test_repeats_do_not_depend_on_chunks(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI,
                                                chunk_rows: int, fork: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nor on where rows are parsed: a forked worker process, or a thread where there is no fork."""
    monkeypatch.setattr(importer, "_FORK", fork)
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    # Row 2 repeats row 1's phone (skipped); row 3 repeats row 2's email: still a duplicate, of no lead.
    csv_text = ("last_name,email,phone\nA,a@x.example,13800138000\nB,b@x.example,13800138000\n"
                "C,b@x.example,13900139000\nD,A@x.example,\n")
    r = await client.post("/v1/lead-imports", content=csv_text.encode(), headers=h)
    await _process(app, r.json()["id"], chunk_rows=chunk_rows)
    errors = (await client.get(f"/v1/lead-imports/{r.json()['id']}/errors", headers=h)).json()["items"]
    a = (await _lead_ids(client, h))["A"]
    assert [(e["row_number"], e["message"], e["duplicate_of"]) for e in errors] == [
        (2, "Phone repeats row 1", a), (3, "Email repeats row 2", None), (4, "Email repeats row 1", a)]


async def _lead_ids(client: httpx.AsyncClient, h: dict[str, str]) -> dict[str, str]:
    return {x["last_name"]: x["id"] for x in (await client.get("/v1/leads", headers=h)).json()["items"]}


async def test_rows_matching_a_contact_or_a_merged_lead(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    contact = (await client.post("/v1/contacts", json={"last_name": "李", "phone": "+86 139 0013 9000"}, headers=h)).json()
    keep = (await client.post("/v1/leads", json=lead_body(email="keep@x.example", phone=None), headers=h)).json()
    gone = (await client.post("/v1/leads?allow_duplicates=true", json=lead_body(email="gone@x.example", phone=None),
                              headers=h)).json()
    r = await client.post(f"/v1/leads/{keep['id']}/merge", json={"duplicate_id": gone["id"]}, headers=h)
    assert r.status_code == 200, r.text
    csv_text = "last_name,email,phone\nA,new@x.example,13900139000\nB,GONE@x.example,\nC,keep@x.example,\n"
    r = await client.post("/v1/lead-imports", content=csv_text.encode(), headers={**h, "Content-Type": "text/csv"})
    await _process(app, r.json()["id"])
    errors = (await client.get(f"/v1/lead-imports/{r.json()['id']}/errors", headers=h)).json()["items"]
    # A merged lead no longer blocks its email (the survivor keeps its own).
    assert [(e["row_number"], e["message"], e["duplicate_of"]) for e in errors] == [
        (1, f"Phone matches existing contact {contact['id']}", contact["id"]),
        (3, f"Email matches existing lead {keep['id']}", keep["id"])]


async def test_imported_scores_equal_the_sql_scoring(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    """The import scores rows in Python; a rescore in SQL (what a rule change runs) changes nothing."""
    h = tenant.admin.headers
    for field, op, value, points in [("source", "eq", "REFERRAL", 20), ("company_size", "gt", 500, 15),
                                     ("phone", "is_empty", None, -10), ("product_interest", "in", ["cnc", "Laser"], 30),
                                     ("title", "contains", "采购", 10), ("region", "ne", "east", 5),
                                     ("campaign", "not_in", ["Expo"], 7), ("company_size", "lte", 50, 3),
                                     ("email", "is_set", None, 1), ("company", "contains", "ltd", 2)]:
        r = await client.post("/v1/lead-scoring-rules", json={"name": f"{field} {op}", "field": field, "operator": op,
                                                              "value": value, "points": points}, headers=h)
        assert r.status_code == 201, r.text
    csv_text = ("last_name,email,phone,title,company,company_size,region,product_interest,source,campaign\n"
                "A,a@x.example,,采购经理,Acme Ltd,800,East,CNC,referral,Expo\n"
                "B,,13800138000,Buyer,华东机械有限公司,50,,laser,event,\n"
                "C,c@x.example,,,ACME LTD,,north,Lathe,web_form,Q4\n"
                "D,,,高级采购,,5000,EAST,,REFERRAL,expo\n")
    r = await client.post("/v1/lead-imports", content=csv_text.encode(), headers={**h, "Content-Type": "text/csv"})
    await _process(app, r.json()["id"])
    rows = select(Lead.last_name, Lead.score, Lead.grade, Lead.score_breakdown).where(Lead.org_id == tenant.id)
    imported = {x.last_name: tuple(x) for x in (await tenant.session.execute(rows)).all()}
    assert len(imported) == 4 and len({x[1] for x in imported.values()}) > 2
    await scoring.rescore(tenant.session, tenant.id)
    rescored = {x.last_name: tuple(x) for x in (await tenant.session.execute(rows)).all()}
    assert rescored == imported
    assert imported["A"][1:3] == (20 + 15 - 10 + 30 + 10 + 1 + 2, "B")


async def test_allow_duplicates_imports_them(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    csv_text = "last_name,email\nA,a@x.example\nB,a@x.example\n"
    r = await client.post("/v1/lead-imports?allow_duplicates=true", content=csv_text.encode(), headers=h)
    await _process(app, r.json()["id"])
    done = (await client.get(f"/v1/lead-imports/{r.json()['id']}", headers=h)).json()
    assert (done["created_count"], done["duplicate_count"]) == (2, 0)


async def test_owner_email_follows_the_importers_owner_rule(client: httpx.AsyncClient, tenant: Tenant,
                                                            app: FastAPI) -> None:
    """As over the API (docs/identity.md#who-may-own-a-record): a rep's import assigns only
    to the rep, a manager's within the team subtree; an admin's anyone (the test above)."""
    east, west = await tenant.add_team("East"), await tenant.add_team("West")
    manager = await tenant.add_user(Role.manager, team=east)
    east.manager_id = manager.id
    await tenant.session.flush()
    rep_east, rep_west = await tenant.add_user(Role.rep, team=east), await tenant.add_user(Role.rep, team=west)

    async def run(importer: Actor, *owners: Actor) -> tuple[dict[str, str | None], list[tuple[int, str]]]:
        """Import one lead per owner, named after the importer and row; (lead owners, row errors)."""
        tag = importer.user.role.value
        rows = "".join(f"{tag}{n},{u.user.email}\n" for n, u in enumerate(owners, 1))
        r = await client.post("/v1/lead-imports", content=f"last_name,owner_email\n{rows}".encode(),
                              headers={**importer.headers, "Content-Type": "text/csv"})
        assert r.status_code == 202, r.text
        await _process(app, r.json()["id"])
        errors = (await client.get(f"/v1/lead-imports/{r.json()['id']}/errors", headers=importer.headers)).json()["items"]
        leads = (await client.get("/v1/leads", params={"limit": 200}, headers=tenant.admin.headers)).json()["items"]
        return ({x["last_name"]: x["owner_id"] for x in leads if x["last_name"].startswith(tag)},
                [(e["row_number"], e["code"]) for e in errors])

    assert await run(rep_east, rep_east, rep_west) == ({"rep1": str(rep_east.id)}, [(2, "unknown_owner")])
    assert await run(manager, manager, rep_east, rep_west) == (
        {"manager1": str(manager.id), "manager2": str(rep_east.id)}, [(3, "unknown_owner")])


async def test_bad_files_are_refused_up_front(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    for content in (b"", b"\xff\xfe\x00bad", b"email,phone\nx@y.z,1\n"):
        r = await client.post("/v1/lead-imports", content=content, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "invalid-csv", content
    viewer = await tenant.add_user(Role.viewer)
    r = await client.post("/v1/lead-imports", content=b"last_name\nx\n", headers={**viewer.headers, "Content-Type": "text/csv"})
    assert r.status_code == 403
    count = await tenant.session.scalar(select(func.count()).select_from(Lead).where(Lead.org_id == tenant.id))
    assert count == 0


async def test_the_worker_job_imports_an_uploaded_file(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    """An upload through HTTP goes through the same pipeline, run by the worker's lead-imports job."""
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    csv_text = "last_name,email,source\nA,a@x.example,referral\nB,a@x.example,event\nC,bad,event\n"
    job = (await client.post("/v1/lead-imports", content=csv_text.encode(), headers=h)).json()
    async with app.state.db.sessionmaker() as session, session.begin():  # what app.worker.run_once does
        # >= 1: uploads committed by other tests of the run may be queued too
        assert await importer.run_queued_imports(session, app.state.settings) >= 1
    done = (await client.get(f"/v1/lead-imports/{job['id']}", headers=h)).json()
    assert (done["status"], done["created_count"], done["duplicate_count"], done["error_count"]) == ("completed", 1, 1, 1)
    lead = (await client.get("/v1/leads", headers=h)).json()["items"][0]
    assert (lead["last_name"], lead["source"], lead["import_id"]) == ("A", "referral", job["id"])


async def test_awkward_values_arrive_unchanged(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    """Rows reach the lead table by COPY: quotes, separators, line breaks, backslashes and COPY's
    end-of-data marker survive; one chunk per row."""
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    awkward = {"A": 'line 1\r\nline 2\ttab "quoted", back\\slash \\N 中文', "B": "before\n\\.\nafter", "C": "\\.",
               "D": 'x"', "E": "\r"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["last_name", "description", "title"])
    for name, text in awkward.items():
        writer.writerow([name, text, "NULL"])
    r = await client.post("/v1/lead-imports", content=out.getvalue().encode(), headers=h)
    await _process(app, r.json()["id"], chunk_rows=1)
    rows = (await tenant.session.execute(select(Lead.last_name, Lead.description, Lead.title, Lead.company)
                                         .where(Lead.org_id == tenant.id))).all()
    # Values are trimmed (a lone "\r" is nothing), absent ones are NULL, never "".
    assert {x.last_name: x.description for x in rows} == {**awkward, "A": awkward["A"], "E": None}
    assert {(x.title, x.company) for x in rows} == {("NULL", None)}


async def test_concurrent_imports_of_one_org_never_both_insert_a_row(committed_client: httpx.AsyncClient,
                                                                      committed_tenant: Tenant, database: Database) -> None:
    """Two workers take two uploads of overlapping files at once: the organisation's import lock,
    held for a whole import, lets the second see every lead of the first (chunks of 2 rows)."""
    h = {**committed_tenant.admin.headers, "Content-Type": "text/csv"}
    rows = "".join(f"L{i},same{i}@x.example\n" for i in range(12))
    ids = [(await committed_client.post("/v1/lead-imports", content=f"last_name,email\n{rows}".encode(), headers=h)).json()["id"]
           for _ in range(2)]

    async def work(import_id: str) -> None:
        claimed = await importer.claim_next(database.sessionmaker, import_id=uuid.UUID(import_id))
        assert claimed is not None
        await importer.process(database.sessionmaker, *claimed, chunk_rows=2)

    await asyncio.gather(*(work(i) for i in ids))
    done = [(await committed_client.get(f"/v1/lead-imports/{i}", headers=h)).json() for i in ids]
    assert sorted((d["created_count"], d["duplicate_count"]) for d in done) == [(0, 12), (12, 0)]
    leads = (await committed_client.get("/v1/leads?limit=100", headers=h)).json()["items"]
    assert sorted(x["email"] for x in leads) == sorted(f"same{i}@x.example" for i in range(12))
