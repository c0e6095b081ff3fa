"""Bulk CSV import of accounts and contacts: the shared import job resource (progress, counts,
per-row errors) over real HTTP and a real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.accounts.models import Account, Contact
from app.core.db import Database
from app.identity.models import Role
from app.imports import jobs
from app.leads.models import LeadImport
from tests.identity.helpers import bearer
from tests.support.cli import crm
from tests.support.crm_data import events
from tests.support.factories import Tenant

CSV = {"Content-Type": "text/csv"}


async def _process(app: FastAPI, import_id: str, chunk_rows: int = 3) -> None:
    """What the worker's imports job does for one upload (small chunks: repeats cross them)."""
    claimed = await jobs.claim_next(app.state.db.sessionmaker, import_id=uuid.UUID(import_id))
    assert claimed is not None
    await jobs.process(app.state.db.sessionmaker, *claimed, chunk_rows=chunk_rows)


async def _upload(client: httpx.AsyncClient, app: FastAPI, path: str, body: str, headers: dict[str, str],
                  chunk_rows: int = 3) -> tuple[dict, list[dict]]:
    r = await client.post(path, content=body.encode(), headers={**headers, **CSV})
    assert r.status_code == 202, r.text
    location = f"{path.split('?')[0]}/{r.json()['id']}"
    assert r.headers["Location"] == location and r.json()["status"] == "queued"
    await _process(app, r.json()["id"], chunk_rows)
    done = (await client.get(location, headers=headers)).json()
    errors = (await client.get(f"{location}/errors?limit=200", headers=headers)).json()["items"]
    return done, errors


async def _all(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[dict]:
    return (await client.get(f"{path}?limit=200", headers=headers)).json()["items"]


# ---- accounts ------------------------------------------------------------------------------

ACCOUNTS_CSV = """name,website,industry,employees,region,tier,lifecycle,description,owner_email,extra
上海华东机械有限公司,https://hd.example.cn,Machinery,1200,East China,strategic,Customer,"Key, account",{rep},x
,https://nameless.example,,,,,,,,
North Steel,,,lots,,,,,,
South Co,,,,,,won,,,
Beta Ltd,,,,,,,,nobody@example.com,
ACME Trading,,,,,,,,,
上海华东机械,,,,,,,,,
{long},,,,,,,,,
Gamma GmbH,,,,,,churned,,,
"""


async def test_account_import_counts_rows_errors_and_creates_accounts(
        client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    rep = await tenant.add_user(Role.rep)
    existing = (await client.post("/v1/accounts", json={"name": "Acme Trading Co., Ltd."}, headers=h)).json()
    body = ACCOUNTS_CSV.format(rep=rep.user.email.upper(), long="L" * 301)
    done, errors = await _upload(client, app, "/v1/account-imports?filename=crm-export.csv", body, h)
    assert (done["kind"], done["status"], done["filename"]) == ("accounts", "completed", "crm-export.csv")
    assert (done["total_rows"], done["processed_rows"]) == (9, 9)
    assert (done["created_count"], done["duplicate_count"], done["error_count"]) == (2, 2, 5)
    assert [(e["row_number"], e["code"]) for e in errors] == [
        (2, "missing_name"), (3, "bad_size"), (4, "bad_lifecycle"), (5, "unknown_owner"), (6, "duplicate"),
        (7, "duplicate"), (8, "too_long")]
    accounts = {a["name"]: a for a in await _all(client, "/v1/accounts", h)}
    assert set(accounts) == {"Acme Trading Co., Ltd.", "上海华东机械有限公司", "Gamma GmbH"}
    hd = accounts["上海华东机械有限公司"]
    assert (hd["website"], hd["industry"], hd["size"], hd["region"], hd["tier"], hd["lifecycle"], hd["description"],
            hd["owner_id"], hd["version"]) == ("https://hd.example.cn", "Machinery", 1200, "East China", "strategic",
                                               "customer", "Key, account", str(rep.id), 1)
    # No owner_email: the importing user owns the row; lifecycle as given (default prospect).
    assert (accounts["Gamma GmbH"]["owner_id"], accounts["Gamma GmbH"]["lifecycle"]) == (str(tenant.admin.id), "churned")
    # Duplicates name what they match: an existing account, or the account an earlier row made.
    assert (errors[4]["message"], errors[4]["duplicate_of"]) == (
        f"Name matches existing account {existing['id']} (Acme Trading Co., Ltd.)", existing["id"])
    assert (errors[5]["message"], errors[5]["duplicate_of"]) == ("Name repeats row 1", hd["id"])
    assert errors[3]["message"] == "No active user with email nobody@example.com"
    # The imported account is a normal account: searchable and editable with its ETag.
    assert [a["id"] for a in (await client.get("/v1/accounts?q=华东机械", headers=h)).json()["items"]] == [hd["id"]]
    r = await client.patch(f"/v1/accounts/{hd['id']}", json={"tier": "key"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    queued = await events(tenant.session, tenant.id, "account_import.queued")
    completed = await events(tenant.session, tenant.id, "account_import.completed")
    assert len(queued) == 1 and completed[0].payload["created"] == 2 and completed[0].payload["kind"] == "accounts"
    audit = (await client.get("/v1/audit-log?entity_type=account_import", headers=h)).json()["items"]
    assert [(a["entity_id"], a["action"]) for a in audit] == [(done["id"], "create")]


async def test_allow_duplicates_imports_accounts_with_a_known_name(
        client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    await client.post("/v1/accounts", json={"name": "Acme Ltd"}, headers=h)
    done, errors = await _upload(client, app, "/v1/account-imports?allow_duplicates=true", "name\nACME\nAcme Inc.\n", h)
    assert (done["skip_duplicates"], done["created_count"], done["duplicate_count"], errors) == (False, 2, 0, [])
    assert len(await _all(client, "/v1/accounts", h)) == 3


async def test_account_repeats_do_not_depend_on_chunks(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    for chunk_rows in (1, 100):
        body = f"name\nDelta {chunk_rows} Ltd\nDELTA {chunk_rows}\nEcho {chunk_rows}\n"
        _, errors = await _upload(client, app, "/v1/account-imports", body, h, chunk_rows=chunk_rows)
        delta = [a for a in await _all(client, "/v1/accounts", h) if a["name"] == f"Delta {chunk_rows} Ltd"]
        assert [(e["row_number"], e["message"], e["duplicate_of"]) for e in errors] == [
            (2, "Name repeats row 1", delta[0]["id"])]


# ---- contacts ------------------------------------------------------------------------------

CONTACTS_CSV = """First Name,Last Name,E-mail,Mobile,Job Title,owner_email,company,account_id
伟,张,zhang.wei@example.cn,138 0013 8000,采购经理,,ACME TRADING,
Lei,Zhao,not-an-email,,,,,
Min,Wang,,12,,,,
Jing,,jing@x.example,,,,,
Hui,Sun,sun@x.example,,,nobody@x.example,,
A,B,ZHANG.WEI@example.cn,,,,,
C,D,existing@x.example,,,,,
E,F,,+86 138-0013-8000,,,,
G,H,,,,,No Such Co,
I,J,,,,,Twin,
K,L,,,,,,{hd}
M,N,,,,,,not-a-uuid
O,P,,,,,,{random}
Q,R,q@x.example,,Buyer,{rep},华东机械,
"""


async def test_contact_import_links_accounts_and_reports_row_errors(
        client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    rep = await tenant.add_user(Role.rep)
    acme = (await client.post("/v1/accounts", json={"name": "Acme Trading Co., Ltd."}, headers=h)).json()
    hd = (await client.post("/v1/accounts", json={"name": "华东机械有限公司"}, headers=h)).json()
    for _ in range(2):
        await client.post("/v1/accounts", json={"name": "Twin Ltd"}, headers=h)
    existing = (await client.post("/v1/contacts", json={"last_name": "X", "email": "Existing@x.example"}, headers=h)).json()
    body = CONTACTS_CSV.format(hd=hd["id"], random=uuid.uuid4(), rep=rep.user.email)
    done, errors = await _upload(client, app, "/v1/contact-imports", body, h)
    assert (done["kind"], done["status"], done["processed_rows"]) == ("contacts", "completed", 14)
    assert (done["created_count"], done["duplicate_count"], done["error_count"]) == (3, 3, 8)
    assert [(e["row_number"], e["code"]) for e in errors] == [
        (2, "bad_email"), (3, "bad_phone"), (4, "missing_name"), (5, "unknown_owner"), (6, "duplicate"),
        (7, "duplicate"), (8, "duplicate"), (9, "unknown_account"), (10, "ambiguous_account"),
        (12, "unknown_account"), (13, "unknown_account")]
    contacts = {c["last_name"]: c for c in await _all(client, "/v1/contacts", h)}
    assert set(contacts) == {"X", "张", "L", "R"}
    zhang = contacts["张"]
    assert (zhang["account_id"], zhang["owner_id"], zhang["phone_normalized"], zhang["title"]) == (
        acme["id"], str(tenant.admin.id), "+8613800138000", "采购经理")
    assert (contacts["L"]["account_id"], contacts["R"]["account_id"], contacts["R"]["owner_id"]) == (
        hd["id"], hd["id"], str(rep.id))
    by_row = {e["row_number"]: e for e in errors}
    assert (by_row[6]["message"], by_row[6]["duplicate_of"]) == ("Email repeats row 1", zhang["id"])
    assert (by_row[7]["message"], by_row[7]["duplicate_of"]) == (
        f"Email matches existing contact {existing['id']}", existing["id"])
    assert (by_row[8]["message"], by_row[8]["duplicate_of"]) == ("Phone repeats row 1", zhang["id"])
    assert by_row[9]["message"] == "No account named 'No Such Co' (import accounts first)"
    assert by_row[10]["message"].startswith("2 accounts are named like 'Twin'")
    # The account's contacts list shows the linked import rows.
    linked = (await client.get(f"/v1/contacts?account_id={hd['id']}", headers=h)).json()["items"]
    assert {c["last_name"] for c in linked} == {"L", "R"}
    completed = await events(tenant.session, tenant.id, "contact_import.completed")
    assert completed[0].payload["duplicates"] == 3


async def test_contacts_matching_an_existing_phone_and_allow_duplicates(
        client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    existing = (await client.post("/v1/contacts", json={"last_name": "李", "phone": "+86 139 0013 9000"}, headers=h)).json()
    body = "last_name,email,phone\nA,a@x.example,13900139000\nB,a@x.example,\n"
    done, errors = await _upload(client, app, "/v1/contact-imports", body, h)
    # Row 1 is skipped as a duplicate, so row 2's email is new: imported (as the lead import does).
    assert [(e["row_number"], e["message"], e["duplicate_of"]) for e in errors] == [
        (1, f"Phone matches existing contact {existing['id']}", existing["id"])]
    assert {c["last_name"] for c in await _all(client, "/v1/contacts", h)} == {"李", "B"}
    done, errors = await _upload(client, app, "/v1/contact-imports?allow_duplicates=true", body, h)
    assert (done["skip_duplicates"], done["created_count"], errors) == (False, 2, [])
    assert len(await _all(client, "/v1/contacts", h)) == 4


async def test_api_key_imports_need_an_owner_per_row(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    key = (await client.post("/v1/api-keys", headers=tenant.admin.headers,
                             json={"name": "ERP", "scopes": ["accounts:write"]})).json()["key"]
    h = bearer(key)
    r = await client.post("/v1/account-imports", content=b"name\nAcme\n", headers={**h, **CSV})
    assert r.status_code == 422 and "owner_email" in r.json()["detail"]
    done, errors = await _upload(client, app, "/v1/account-imports",
                                 f"name,owner_email\nAcme,{tenant.admin.user.email}\nGlobex,\n", h)
    assert done["created_count"] == 1 and [(e["row_number"], e["code"]) for e in errors] == [(2, "missing_owner")]
    assert (await client.post("/v1/lead-imports", content=b"last_name\nx\n", headers={**h, **CSV})).status_code == 403


# ---- the job around the rows ---------------------------------------------------------------

async def test_bad_files_are_refused_and_create_no_job(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    bad = {
        "/v1/account-imports": [b"", b"\n\n", b"\xff\xfe\x00bad", b"website,industry\nx.example,y\n"],
        "/v1/contact-imports": [b"", b"\xff\xfe\x00bad", b"first_name,email\nA,a@x.example\n"],
    }
    for path, contents in bad.items():
        for content in contents:
            r = await client.post(path, content=content, headers={**h, **CSV})
            assert r.status_code == 422, (path, content)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "invalid-csv", (path, content)
        r = await client.post(path, content=b'{"name": "Acme"}', headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "invalid-csv"
        assert (await client.get(path, headers=h)).json()["items"] == []
    missing = await client.post("/v1/contact-imports", content=b"first_name,email\nA,a@x.example\n", headers={**h, **CSV})
    assert "last_name" in missing.json()["detail"]
    viewer = await tenant.add_user(Role.viewer)
    r = await client.post("/v1/account-imports", content=b"name\nx\n", headers={**viewer.headers, **CSV})
    assert r.status_code == 403
    # Reps and managers see part of the organisation: an import matching every owner's records is not theirs.
    for role in (Role.rep, Role.manager):
        person = await tenant.add_user(role)
        for path, content in (("/v1/account-imports", b"name\nx\n"), ("/v1/contact-imports", b"last_name\nx\n")):
            r = await client.post(path, content=content, headers={**person.headers, **CSV})
            assert r.status_code == 403 and "admins and API keys" in r.json()["detail"], (role, path)
    jobs_made = await tenant.session.scalar(select(func.count()).select_from(LeadImport).where(LeadImport.org_id == tenant.id))
    accounts = await tenant.session.scalar(select(func.count()).select_from(Account).where(Account.org_id == tenant.id))
    assert (jobs_made, accounts) == (0, 0)


async def test_each_kind_lists_and_reads_only_its_own_imports(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = {**tenant.admin.headers, **CSV}
    ids = {path: (await client.post(path, content=body, headers=h)).json()["id"] for path, body in (
        ("/v1/lead-imports", b"last_name\nA\n"), ("/v1/account-imports", b"name\nA\n"),
        ("/v1/contact-imports", b"last_name\nA\n"))}
    for path, own in ids.items():
        assert [j["id"] for j in (await client.get(path, headers=h)).json()["items"]] == [own]
        for other in set(ids.values()) - {own}:
            assert (await client.get(f"{path}/{other}", headers=h)).status_code == 404
            assert (await client.get(f"{path}/{other}/errors", headers=h)).status_code == 404


async def test_the_worker_job_imports_every_kind(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    h = {**tenant.admin.headers, **CSV}
    lead = (await client.post("/v1/lead-imports", content=b"last_name,email\nA,a@x.example\n", headers=h)).json()
    account = (await client.post("/v1/account-imports", content="name\n华东机械有限公司\n".encode(), headers=h)).json()
    contact = (await client.post("/v1/contact-imports", content="last_name,account_name\n张,华东机械\n".encode(),
                                 headers=h)).json()
    async with app.state.db.sessionmaker() as session, session.begin():  # what app.worker.run_once does
        # >= 3: uploads committed by other tests of the run may be queued too
        assert await jobs.run_queued_imports(session, app.state.settings) >= 3
    for path, job in (("/v1/lead-imports", lead), ("/v1/account-imports", account), ("/v1/contact-imports", contact)):
        done = (await client.get(f"{path}/{job['id']}", headers=h)).json()
        assert (done["status"], done["created_count"]) == ("completed", 1), done
    # Claimed oldest first: the account exists before the contact that names it is imported.
    hd = (await client.get("/v1/accounts", headers=h)).json()["items"][0]
    assert (await client.get("/v1/contacts", headers=h)).json()["items"][0]["account_id"] == hd["id"]


async def test_crm_import_accounts_then_contacts_from_the_command_line(
        database_url: str, committed_client: httpx.AsyncClient, committed_tenant: Tenant, tmp_path: Path) -> None:
    """The real commands in processes of their own, on files; the resources they leave behind
    are the API's."""
    h = committed_tenant.admin.headers
    org, admin = str(committed_tenant.id), committed_tenant.admin.user.email
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("name,industry,lifecycle\n上海华东机械有限公司,Machinery,customer\nNorth Steel,,bogus\n",
                        encoding="utf-8")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("last_name,email,account_name\n张,zhang@x.example,上海华东机械\n李,bad-email,上海华东机械\n",
                        encoding="utf-8")
    refused = crm(database_url, "import", "accounts", str(accounts), "--org", org)  # no --as, no owner_email
    assert refused.returncode != 0 and "owner" in refused.stderr
    assert (await committed_client.get("/v1/account-imports", headers=h)).json()["items"] == []

    first = crm(database_url, "import", "accounts", str(accounts), "--org", org, "--as", admin)
    assert first.returncode == 0, first.stderr
    assert "completed" in first.stderr and "/v1/account-imports/" in first.stderr
    second = crm(database_url, "import", "contacts", str(contacts), "--org", org, "--as", admin)
    assert second.returncode == 0, second.stderr
    [account_job] = (await committed_client.get("/v1/account-imports", headers=h)).json()["items"]
    assert (account_job["filename"], account_job["created_count"], account_job["error_count"]) == ("accounts.csv", 1, 1)
    [contact_job] = (await committed_client.get("/v1/contact-imports", headers=h)).json()["items"]
    errors = (await committed_client.get(f"/v1/contact-imports/{contact_job['id']}/errors", headers=h)).json()["items"]
    assert [(e["row_number"], e["code"]) for e in errors] == [(2, "bad_email")]
    [account] = (await committed_client.get("/v1/accounts", headers=h)).json()["items"]
    [contact] = (await committed_client.get("/v1/contacts", headers=h)).json()["items"]
    assert (account["lifecycle"], account["owner_id"]) == ("customer", str(committed_tenant.admin.id))
    assert (contact["last_name"], contact["account_id"]) == ("张", account["id"])


async def test_imported_rows_reach_the_tables_unchanged(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    """COPY carries quotes, separators, line breaks and backslashes; empty cells are NULL."""
    h = tenant.admin.headers
    awkward = 'line 1\r\nline 2\t"quoted", back\\slash \\N 中文'
    body = 'name,description,tier\n"Awkward Co","' + awkward.replace('"', '""') + '",\nPlain Co,,\n'
    await _upload(client, app, "/v1/account-imports", body, h, chunk_rows=1)
    rows = dict((await tenant.session.execute(select(Account.name, Account.description)
                                              .where(Account.org_id == tenant.id))).all())
    assert rows == {"Awkward Co": awkward, "Plain Co": None}
    tiers = (await tenant.session.execute(select(Account.tier).where(Account.org_id == tenant.id))).scalars().all()
    assert tiers == [None, None]
    count = await tenant.session.scalar(select(func.count()).select_from(Contact).where(Contact.org_id == tenant.id))
    assert count == 0


async def test_a_file_broken_midway_fails_with_the_line_and_keeps_earlier_chunks(
        committed_client: httpx.AsyncClient, committed_tenant: Tenant, database: Database) -> None:
    """Real commits (each chunk is its own transaction on its own connection)."""
    h = committed_tenant.admin.headers
    body = 'name,description\nAcme,ok\nBeta,ok\nGamma,"' + "x" * 200_000 + '"\n'  # over the csv module's field limit
    r = await committed_client.post("/v1/account-imports", content=body.encode(), headers={**h, **CSV})
    claimed = await jobs.claim_next(database.sessionmaker, import_id=uuid.UUID(r.json()["id"]))
    assert claimed is not None
    await jobs.process(database.sessionmaker, *claimed, chunk_rows=2)
    done = (await committed_client.get(f"/v1/account-imports/{r.json()['id']}", headers=h)).json()
    assert (done["status"], done["created_count"], done["processed_rows"]) == ("failed", 2, 2)
    assert done["failure"].startswith("Unreadable CSV at line 4")
    assert {a["name"] for a in await _all(committed_client, "/v1/accounts", h)} == {"Acme", "Beta"}
    async with database.sessionmaker() as session:
        failed = await events(session, committed_tenant.id, "account_import.failed")
    assert [e.payload["kind"] for e in failed] == ["accounts"]
