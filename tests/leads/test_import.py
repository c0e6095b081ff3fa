"""Bulk CSV import: a background job resource with progress, counts and per-row errors."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.identity.models import Role
from app.leads import importer
from app.leads.models import Lead
from tests.support.crm_data import events, lead_body
from tests.support.factories import Tenant

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
    assert errors[3]["duplicate_of"] == first["id"]
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


async def test_allow_duplicates_imports_them(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    csv_text = "last_name,email\nA,a@x.example\nB,a@x.example\n"
    r = await client.post("/v1/lead-imports?allow_duplicates=true", content=csv_text.encode(), headers=h)
    await _process(app, r.json()["id"])
    done = (await client.get(f"/v1/lead-imports/{r.json()['id']}", headers=h)).json()
    assert (done["created_count"], done["duplicate_count"]) == (2, 0)


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
