"""Lead CRUD, duplicates (409 with matches, allow_duplicates, company hints), search, ETags."""

from __future__ import annotations

import asyncio

import httpx

from app.identity.models import Role
from tests.support.crm_data import events, lead_body
from tests.support.factories import Tenant


async def test_create_normalises_and_records_event(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post("/v1/leads", json=lead_body(email=" Zhang.Wei@Example.CN "), headers=tenant.admin.headers)
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["phone_normalized"] == "+8613800138000"
    assert lead["status"] == "new" and lead["grade"] == "D" and lead["owner_id"] is None  # no rules: queue
    assert r.headers["ETag"] == '"1"'
    created = await events(tenant.session, tenant.id, "lead.created")
    assert created[0].payload["lead"]["email"] == "Zhang.Wei@Example.CN"
    assert [e.type for e in await events(tenant.session, tenant.id, "lead.queued")] == ["lead.queued"]


async def test_rep_owns_what_they_create(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    r = await client.post("/v1/leads", json=lead_body(), headers=rep.headers)
    assert r.json()["owner_id"] == str(rep.id)


async def test_a_manager_in_a_team_gets_duplicate_checks_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """The duplicate lookup scopes leads, contacts and accounts by the manager's team subtree
    in one UNION: each scope's recursive CTE must not collide with the others (it was a 500)."""
    manager = await tenant.add_user(Role.manager)
    await tenant.add_team("East", manager=manager)
    first = await client.post("/v1/leads", json=lead_body(), headers=manager.headers)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/leads", json=lead_body(email="other@example.cn"), headers=manager.headers)
    assert again.status_code == 409 and again.json()["matches"][0]["id"] == first.json()["id"]
    assert again.json()["matches"][0]["visible"] is True


async def test_duplicate_email_or_phone_is_409_with_matches(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = (await client.post("/v1/leads", json=lead_body(), headers=tenant.admin.headers)).json()
    # Same phone written differently, different email.
    r = await client.post("/v1/leads", json=lead_body(email="other@example.cn", phone="+86 138-0013-8000"),
                          headers=tenant.admin.headers)
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "duplicate-lead"
    assert problem["matches"][0]["id"] == first["id"] and problem["matches"][0]["matched_on"] == ["phone", "company"]
    # A contact with the email blocks too.
    contact = await client.post("/v1/contacts", json={"last_name": "李", "email": "li@example.cn"}, headers=tenant.admin.headers)
    assert contact.status_code == 201
    r = await client.post("/v1/leads", json=lead_body(email="LI@example.cn", phone=None), headers=tenant.admin.headers)
    assert r.status_code == 409 and r.json()["matches"][0]["type"] == "contact"
    # Asked to create anyway: created.
    r = await client.post("/v1/leads?allow_duplicates=true", json=lead_body(phone="13800138000", email=None),
                          headers=tenant.admin.headers)
    assert r.status_code == 201


async def test_company_match_is_a_hint_not_a_block(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await client.post("/v1/leads", json=lead_body(company="Acme Trading Co., Ltd."), headers=tenant.admin.headers)
    r = await client.post("/v1/leads", json=lead_body(company="ACME Trading Inc", email="b@acme.example", phone=None),
                          headers=tenant.admin.headers)
    assert r.status_code == 201
    hints = r.json()["possible_duplicates"]
    assert len(hints) == 1 and hints[0]["matched_on"] == ["company"] and hints[0]["blocking"] is False
    r2 = await client.post("/v1/leads", json=lead_body(company="华东机械", email="c@x.example", phone=None), headers=tenant.admin.headers)
    r3 = await client.post("/v1/leads", json=lead_body(company="华东机械有限公司", email="d@x.example", phone=None),
                           headers=tenant.admin.headers)
    assert r3.json()["possible_duplicates"][0]["id"] == r2.json()["id"]
    dupes = await client.get(f"/v1/leads/{r2.json()['id']}/duplicates", headers=tenant.admin.headers)
    assert [d["id"] for d in dupes.json()] == [r3.json()["id"]]


async def test_a_lead_from_an_existing_account_is_flagged(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    account = (await client.post("/v1/accounts", json={"name": "深圳电子有限公司"}, headers=h)).json()
    r = await client.post("/v1/leads", json=lead_body(company="深圳电子", email="new@sz.example", phone=None), headers=h)
    assert r.status_code == 201
    assert [(m["type"], m["id"], m["name"], m["matched_on"], m["blocking"]) for m in r.json()["possible_duplicates"]] == [
        ("account", account["id"], "深圳电子有限公司", ["company"], False)]
    dupes = (await client.get(f"/v1/leads/{r.json()['id']}/duplicates", headers=h)).json()
    assert [(d["type"], d["id"]) for d in dupes] == [("account", account["id"])]
    # A rep learns that an account matches, not whose it is.
    rep = await tenant.add_user()
    r = await client.post("/v1/leads", json=lead_body(company="深圳电子 Ltd", email="rep@sz.example", phone=None),
                          headers=rep.headers)
    [hint] = [m for m in r.json()["possible_duplicates"] if m["type"] == "account"]
    assert (hint["id"], hint["name"], hint["owner_id"], hint["visible"]) == (account["id"], None, None, False)


async def test_bad_email_and_phone_are_422_and_change_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post("/v1/leads", json=lead_body(email="not-an-email", phone="12"), headers=tenant.admin.headers)
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("body", "email"), ("body", "phone")}
    assert (await client.get("/v1/leads", headers=tenant.admin.headers)).json()["items"] == []
    r = await client.post("/v1/leads", json={"source": "web_form"}, headers=tenant.admin.headers)
    assert r.status_code == 422


async def test_search_filters_and_pagination(client: httpx.AsyncClient, tenant: Tenant) -> None:
    names = [("伟", "张", "华东机械"), ("Lei", "Zhao", "North Steel"), ("静", "陈", "深圳电子"), ("Min", "Wang", "Acme")]
    for i, (first, last, company) in enumerate(names):
        r = await client.post("/v1/leads", json=lead_body(first_name=first, last_name=last, company=company,
                                                          email=f"p{i}@example.com", phone=None,
                                                          source="event" if i % 2 else "referral"),
                              headers=tenant.admin.headers)
        assert r.status_code == 201
    h = tenant.admin.headers
    assert [x["last_name"] for x in (await client.get("/v1/leads", params={"q": "张伟"}, headers=h)).json()["items"]] == ["张"]
    assert [x["company"] for x in (await client.get("/v1/leads", params={"q": "深圳"}, headers=h)).json()["items"]] == ["深圳电子"]
    assert len((await client.get("/v1/leads", params={"source": "event"}, headers=h)).json()["items"]) == 2
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/leads", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h)).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 4 == len(set(seen))


async def test_update_with_if_match_and_disqualify_needs_reason(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    url = f"/v1/leads/{lead['id']}"
    r = await client.patch(url, json={"title": "采购总监", "status": "qualified"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["title"] == "采购总监" and r.headers["ETag"] == '"2"'
    stale = await client.patch(url, json={"title": "x"}, headers={**h, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.post(f"{url}/disqualify", json={}, headers=h)).status_code == 422
    assert (await client.post(f"{url}/disqualify", json={"reason": ""}, headers=h)).status_code == 422
    r = await client.post(f"{url}/disqualify", json={"reason": "No budget 今年没有预算"}, headers=h)
    assert r.json()["status"] == "disqualified" and r.json()["disqualify_reason"] == "No budget 今年没有预算"
    assert (await events(tenant.session, tenant.id, "lead.disqualified"))[0].payload["reason"].startswith("No budget")


async def test_reps_see_only_their_leads(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a, b = await tenant.add_user(Role.rep), await tenant.add_user(Role.rep)
    lead = (await client.post("/v1/leads", json=lead_body(), headers=a.headers)).json()
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=b.headers)).status_code == 404
    assert (await client.get("/v1/leads", headers=b.headers)).json()["items"] == []
    viewer = await tenant.add_user(Role.viewer)
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=viewer.headers)).status_code == 200
    assert (await client.post("/v1/leads", json=lead_body(email="v@x.example", phone=None), headers=viewer.headers)).status_code == 403


async def test_merge_keeps_history(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    keep = (await client.post("/v1/leads", json=lead_body(phone=None), headers=h)).json()
    dup = (await client.post("/v1/leads?allow_duplicates=true", json=lead_body(title="CTO", phone="13900139000"),
                             headers=h)).json()
    act = await client.post("/v1/activities", json={"kind": "call", "subject": "intro", "lead_id": dup["id"]}, headers=h)
    assert act.status_code == 201
    r = await client.post(f"/v1/leads/{keep['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["title"] == "CTO" and merged["phone"] == "13900139000"  # filled from the duplicate
    assert merged["first_response_at"] is not None
    old = (await client.get(f"/v1/leads/{dup['id']}", headers=h)).json()
    assert old["merged_into_id"] == keep["id"]
    assert [x["id"] for x in (await client.get("/v1/leads", headers=h)).json()["items"]] == [keep["id"]]
    acts = (await client.get("/v1/activities", params={"lead_id": keep["id"]}, headers=h)).json()["items"]
    assert [a["id"] for a in acts] == [act.json()["id"]]
    ev = (await events(tenant.session, tenant.id, "lead.merged"))[0]
    assert ev.payload["merged"]["id"] == dup["id"] and "title" in ev.payload["filled_fields"]
    again = await client.post(f"/v1/leads/{keep['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)
    assert again.status_code == 409


async def test_idempotency_key_covers_the_query_string(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """A retry replays; the same key with another query (e.g. allow_duplicates) is refused."""
    h = {**tenant.admin.headers, "Idempotency-Key": "lead-key-1"}
    first = await client.post("/v1/leads", json=lead_body(), headers=h)
    replay = await client.post("/v1/leads", json=lead_body(), headers=h)
    assert replay.json()["id"] == first.json()["id"]
    other = await client.post("/v1/leads?allow_duplicates=true", json=lead_body(), headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"


async def test_a_duplicate_the_caller_cannot_see_shows_no_name_or_owner(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a, b = await tenant.add_user(Role.rep), await tenant.add_user(Role.rep)
    theirs = (await client.post("/v1/leads", json=lead_body(), headers=a.headers)).json()
    r = await client.post("/v1/leads", json=lead_body(phone=None), headers=b.headers)
    assert r.status_code == 409  # the duplicate still blocks
    [match] = r.json()["matches"]
    assert match == {"type": "lead", "id": theirs["id"], "name": None, "company": None, "owner_id": None,
                     "matched_on": ["email", "company"], "blocking": True, "visible": False}
    assert "张" not in r.text and str(a.id) not in r.text
    # A company hint on a 201 is redacted the same way; the owner and the admin see it in full.
    hint = await client.post("/v1/leads", json=lead_body(email="b@x.example", phone=None), headers=b.headers)
    assert hint.status_code == 201
    assert [(m["id"], m["name"], m["visible"]) for m in hint.json()["possible_duplicates"]] == [(theirs["id"], None, False)]
    for actor in (a, tenant.admin):
        r = await client.post("/v1/leads", json=lead_body(phone=None), headers=actor.headers)
        match = r.json()["matches"][0]
        assert r.status_code == 409 and match["name"] == "伟 张" and match["owner_id"] == str(a.id) and match["visible"]
    own = await client.get(f"/v1/leads/{hint.json()['id']}/duplicates", headers=b.headers)
    assert [(m["id"], m["name"], m["owner_id"]) for m in own.json()] == [(theirs["id"], None, None)]


async def test_simultaneous_creates_with_the_same_email_or_phone_make_one_lead(committed_client: httpx.AsyncClient,
                                                                            committed_tenant: Tenant) -> None:
    """Check-then-insert without a lock let two concurrent creates both pass the check."""
    h = committed_tenant.admin.headers
    for round_, bodies in enumerate((
        [lead_body(email="race@x.example", phone=None, company=f"C{i}") for i in range(8)],
        [lead_body(email=f"r{i}@x.example", phone="13900139001", company=f"D{i}") for i in range(8)],
        # Both keys shared: the two locks are taken in one fixed order, so no deadlock.
        [lead_body(email="both@x.example", phone="13900139002", company=f"E{i}") for i in range(8)],
    )):
        responses = await asyncio.gather(*(committed_client.post("/v1/leads", json=b, headers=h) for b in bodies))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 7, (round_, codes)
    listed = (await committed_client.get("/v1/leads", params={"limit": 100}, headers=h)).json()["items"]
    assert len(listed) == 3


async def test_a_lead_holding_merge_history_or_activities_cannot_be_deleted(client: httpx.AsyncClient,
                                                                           tenant: Tenant) -> None:
    """Deleting would bring a merged duplicate back into the lists (and the duplicate checks)
    and would drop logged activities: 409 problem, nothing changed."""
    h = tenant.admin.headers
    keep = (await client.post("/v1/leads", json=lead_body(phone=None), headers=h)).json()
    dup = (await client.post("/v1/leads?allow_duplicates=true", json=lead_body(phone="13900139000"), headers=h)).json()
    assert (await client.post(f"/v1/leads/{keep['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)).status_code == 200
    logged = (await client.post("/v1/leads", json=lead_body(email="li.na@example.cn", phone=None), headers=h)).json()
    act = await client.post("/v1/activities", json={"kind": "call", "subject": "intro", "lead_id": logged["id"]}, headers=h)
    assert act.status_code == 201
    for lead_id, words in ((keep["id"], "merged into this lead"), (dup["id"], "merged lead"),
                           (logged["id"], "activities")):
        before = (await client.get(f"/v1/leads/{lead_id}", headers=h)).json()
        r = await client.delete(f"/v1/leads/{lead_id}", headers=h)
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"]
        assert (await client.get(f"/v1/leads/{lead_id}", headers=h)).json() == before
    listed = [x["id"] for x in (await client.get("/v1/leads", headers=h)).json()["items"]]
    assert sorted(listed) == sorted([keep["id"], logged["id"]])
    assert (await client.get(f"/v1/activities/{act.json()['id']}", headers=h)).status_code == 200
    matches = (await client.get(f"/v1/leads/{logged['id']}/duplicates", headers=h)).json()
    assert [m["id"] for m in matches] == [keep["id"]]  # the merged duplicate stays out of the checks
    assert await events(tenant.session, tenant.id, "lead.deleted") == []
    # A lead without history is still deleted.
    plain = (await client.post("/v1/leads", json=lead_body(email="wang.fang@example.cn", phone=None), headers=h)).json()
    assert (await client.delete(f"/v1/leads/{plain['id']}", headers=h)).status_code == 204
