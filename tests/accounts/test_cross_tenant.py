"""Every accounts/contacts endpoint that takes an id answers another organisation 404."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from app.imports import jobs
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

ENDPOINTS: list[IdEndpoint] = [
    IdEndpoint("GET", "/v1/accounts/{id}"),
    IdEndpoint("PATCH", "/v1/accounts/{id}", json={"tier": "hijacked"}),
    IdEndpoint("DELETE", "/v1/accounts/{id}"),
    IdEndpoint("GET", "/v1/accounts/{id}/timeline"),
    IdEndpoint("GET", "/v1/contacts/{id}"),
    IdEndpoint("PATCH", "/v1/contacts/{id}", json={"title": "hijacked"}),
    IdEndpoint("DELETE", "/v1/contacts/{id}"),
    IdEndpoint("GET", "/v1/contacts/{id}/personal-data"),
    IdEndpoint("POST", "/v1/contacts/{id}/erase"),
    IdEndpoint("GET", "/v1/account-imports/{id}"),
    IdEndpoint("GET", "/v1/account-imports/{id}/errors"),
    IdEndpoint("GET", "/v1/contact-imports/{id}"),
    IdEndpoint("GET", "/v1/contact-imports/{id}/errors"),
]


async def test_accounts_endpoints_hide_other_organisations(client: httpx.AsyncClient, tenant: Tenant,
                                                           other_tenant: Tenant) -> None:
    h = tenant.admin.headers
    account = (await client.post("/v1/accounts", json={"name": "Acme"}, headers=h)).json()
    contact = (await client.post("/v1/contacts", json={"last_name": "李", "account_id": account["id"],
                                                       "email": "li@acme.example"}, headers=h)).json()

    async def snapshot() -> list:
        return [(await client.get(f"/v1/accounts/{account['id']}", headers=h)).json(),
                (await client.get(f"/v1/contacts/{contact['id']}", headers=h)).json()]

    for record_id, prefix in ((account["id"], "/v1/accounts/"), (contact["id"], "/v1/contacts/")):
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=other_tenant.admin.headers,
                                      endpoints=[e for e in ENDPOINTS if e.path.startswith(prefix)], snapshot=snapshot)


async def _imported(client: httpx.AsyncClient, app: FastAPI, path: str, body: str, headers: dict[str, str]) -> str:
    r = await client.post(path, content=body.encode(), headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    claimed = await jobs.claim_next(app.state.db.sessionmaker, import_id=uuid.UUID(r.json()["id"]))
    assert claimed is not None
    await jobs.process(app.state.db.sessionmaker, *claimed)
    return r.json()["id"]


async def test_imports_and_their_errors_hide_from_other_organisations(
        client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    account_job = await _imported(client, app, "/v1/account-imports", "name,size\nAcme,lots\n", h)
    contact_job = await _imported(client, app, "/v1/contact-imports", "last_name,email\nLi,bad\n", h)

    async def snapshot() -> list:
        return [(await client.get(f"{p}/{i}", headers=h)).json() for p, i in (
            ("/v1/account-imports", account_job), ("/v1/contact-imports", contact_job))] + \
            [(await client.get(f"{p}/{i}/errors", headers=h)).json() for p, i in (
                ("/v1/account-imports", account_job), ("/v1/contact-imports", contact_job))]

    before = await snapshot()
    assert [e["code"] for e in before[2]["items"] + before[3]["items"]] == ["bad_size", "bad_email"]
    for record_id, prefix in ((account_job, "/v1/account-imports/"), (contact_job, "/v1/contact-imports/")):
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=other_tenant.admin.headers,
                                      endpoints=[e for e in ENDPOINTS if e.path.startswith(prefix)], snapshot=snapshot)
    for path in ("/v1/account-imports", "/v1/contact-imports"):
        assert (await client.get(path, headers=other_tenant.admin.headers)).json()["items"] == []


async def test_an_import_never_reaches_another_organisations_people_or_records(
        client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, app: FastAPI) -> None:
    """Their owner emails are unknown, their accounts neither link nor count as duplicates,
    their contacts are no duplicates."""
    ours = (await client.post("/v1/accounts", json={"name": "Acme Ltd"}, headers=tenant.admin.headers)).json()
    await client.post("/v1/contacts", json={"last_name": "Li", "email": "li@acme.example"}, headers=tenant.admin.headers)
    theirs = other_tenant.admin.headers
    ours_email = tenant.admin.user.email
    contact_job = await _imported(client, app, "/v1/contact-imports",
                                  f"last_name,email,owner_email,account_name,account_id\n"
                                  f"Li,li@acme.example,,,\nWang,,{ours_email},,\nZhao,,,,{ours['id']}\n"
                                  f"Zhou,,,Acme Ltd,\n", theirs)
    account_job = await _imported(client, app, "/v1/account-imports",
                                  f"name,owner_email\nAcme,\nBeta,{ours_email}\n", theirs)
    errors = [(e["row_number"], e["code"]) for e in
              (await client.get(f"/v1/account-imports/{account_job}/errors", headers=theirs)).json()["items"]]
    assert errors == [(2, "unknown_owner")]
    errors = [(e["row_number"], e["code"]) for e in
              (await client.get(f"/v1/contact-imports/{contact_job}/errors", headers=theirs)).json()["items"]]
    assert errors == [(2, "unknown_owner"), (3, "unknown_account"), (4, "unknown_account")]
    # The name "Acme" (ours) neither blocks their account nor links their contact to ours.
    [acme] = (await client.get("/v1/accounts", headers=theirs)).json()["items"]
    assert acme["name"] == "Acme" and acme["id"] != ours["id"]
    linked = await _imported(client, app, "/v1/contact-imports", "last_name,account_name\nSun,ACME\n", theirs)
    assert (await client.get(f"/v1/contact-imports/{linked}", headers=theirs)).json()["created_count"] == 1
    contacts = {c["last_name"]: c for c in (await client.get("/v1/contacts", headers=theirs)).json()["items"]}
    assert set(contacts) == {"Li", "Sun"} and contacts["Sun"]["account_id"] == acme["id"]
    ours_contacts = (await client.get(f"/v1/contacts?account_id={ours['id']}", headers=tenant.admin.headers)).json()
    assert ours_contacts["items"] == []
