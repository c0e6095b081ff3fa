"""Opportunities: create, read, update, delete, list filters and visibility."""

from __future__ import annotations

from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.events import Event
from app.identity.models import Role
from app.pipelines.models import StageInterval, StageTransition
from tests.pipelines.helpers import move, new_deal, stages


async def test_a_deal_with_no_stage_starts_in_the_default_pipelines_first_stage(client, tenant, session):
    st = await stages(client, tenant.admin)
    r = await client.post("/v1/opportunities", headers=tenant.admin.headers, json={
        "name": "华东电力 2027 框架协议", "amount": "1250000.10", "expected_close_date": "2027-03-31",
        "source": "trade_show", "tags": ["energy", "框架"]})
    assert r.status_code == 201, r.text
    deal = r.json()
    assert r.headers["etag"] == '"1"'
    assert deal["stage_id"] == st["Prospect identification"] and deal["status"] == "open"
    assert deal["amount"] == "1250000.10" and deal["currency"] == "CNY" and deal["owner_id"] == str(tenant.admin.id)
    assert deal["stage"]["labels"] == {"zh-CN": "商机识别"} and deal["stalled"] is False
    interval = (await session.execute(select(StageInterval).where(StageInterval.opportunity_id == deal["id"]))).scalar_one()
    assert interval.exited_at is None and interval.owner_id == tenant.admin.id
    created = (await session.execute(select(StageTransition).where(StageTransition.opportunity_id == deal["id"]))).scalar_one()
    assert created.kind.value == "created" and created.seq == 1
    event = (await session.execute(select(Event).where(Event.entity_id == deal["id"]))).scalar_one()
    assert event.type == "opportunity.created" and event.payload["opportunity"]["name"] == "华东电力 2027 框架协议"
    audit = (await session.execute(select(AuditEntry).where(AuditEntry.entity_id == deal["id"]))).scalar_one()
    assert audit.action.value == "create" and audit.actor_id == tenant.admin.id


async def test_starting_in_a_later_stage_checks_its_criteria(client, tenant):
    st = await stages(client, tenant.admin)
    r = await client.post("/v1/opportunities", json={"name": "x", "stage_id": st["Quotation"]}, headers=tenant.admin.headers)
    assert r.status_code == 422 and len(r.json()["unmet"]) == 2
    r = await client.post("/v1/opportunities", json={"name": "x", "stage_id": st["Won"]}, headers=tenant.admin.headers)
    assert r.status_code == 422
    deal = await new_deal(client, tenant.admin, stage_id=st["Quotation"], amount="5", expected_close_date="2027-01-01")
    assert deal["stage_id"] == st["Quotation"]


async def test_mass_assignment_is_impossible(client, tenant):
    for extra in ({"org_id": str(tenant.id)}, {"version": 7}, {"id": "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11"},
                  {"status": "won"}, {"stalled": True}):
        r = await client.post("/v1/opportunities", json={"name": "x", **extra}, headers=tenant.admin.headers)
        assert r.status_code == 422, extra
    deal = await new_deal(client, tenant.admin)
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"stage_id": deal["stage_id"]}, headers=tenant.admin.headers)
    assert r.status_code == 422


async def test_update_is_versioned_audited_and_evented(client, tenant, session):
    deal = await new_deal(client, tenant.admin)
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"amount": "99.50", "tags": ["vip"]},
                           headers={**tenant.admin.headers, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"amount": "1"},
                           headers={**tenant.admin.headers, "If-Match": '"1"'})
    assert r.status_code == 412
    event = (await session.execute(select(Event).where(Event.entity_id == deal["id"], Event.type == "opportunity.updated"))).scalar_one()
    assert event.payload["changes"]["amount"] == {"before": None, "after": "99.50"}
    audit = (await session.execute(select(AuditEntry).where(AuditEntry.entity_id == deal["id"], AuditEntry.action == "update"))).scalar_one()
    assert audit.changes["amount"]["after"] == "99.50"
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"name": None}, headers=tenant.admin.headers)
    assert r.status_code == 422


async def test_owner_assignment_follows_roles(client, tenant):
    east = await tenant.add_team("East 华东")
    west = await tenant.add_team("West")
    manager = await tenant.add_user(Role.manager, team=east)
    east.manager_id = manager.id
    await tenant.session.flush()
    rep_east = await tenant.add_user(Role.rep, team=east)
    rep_west = await tenant.add_user(Role.rep, team=west)
    # A rep cannot hand a deal to someone else.
    r = await client.post("/v1/opportunities", json={"name": "x", "owner_id": str(rep_west.id)}, headers=rep_east.headers)
    assert r.status_code == 403
    # A manager assigns within the team, not outside it.
    deal = await new_deal(client, manager, owner_id=str(rep_east.id))
    assert deal["owner_id"] == str(rep_east.id) and deal["team_id"] == str(east.id)
    r = await client.post("/v1/opportunities", json={"name": "x", "owner_id": str(rep_west.id)}, headers=manager.headers)
    assert r.status_code == 422
    # An admin reassigns anywhere; the team follows the owner.
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"owner_id": str(rep_west.id)}, headers=tenant.admin.headers)
    assert r.status_code == 200 and r.json()["team_id"] == str(west.id)


async def test_visibility_rep_sees_own_manager_sees_team_admin_sees_all(client, tenant):
    east = await tenant.add_team("East")
    manager = await tenant.add_user(Role.manager, team=east)
    east.manager_id = manager.id
    await tenant.session.flush()
    rep_a = await tenant.add_user(Role.rep, team=east)
    rep_b = await tenant.add_user(Role.rep)
    a = await new_deal(client, rep_a, name="A")
    b = await new_deal(client, rep_b, name="B")

    async def names(actor):
        return sorted(d["name"] for d in (await client.get("/v1/opportunities", headers=actor.headers)).json()["items"])

    assert await names(rep_a) == ["A"]
    assert await names(manager) == ["A"]
    assert await names(tenant.admin) == ["A", "B"]
    assert (await client.get(f"/v1/opportunities/{b['id']}", headers=rep_a.headers)).status_code == 404
    assert (await client.get(f"/v1/opportunities/{a['id']}", headers=manager.headers)).status_code == 200
    assert (await client.patch(f"/v1/opportunities/{b['id']}", json={"name": "x"}, headers=manager.headers)).status_code == 404


async def test_list_filters_and_pagination(client, tenant):
    st = await stages(client, tenant.admin)
    rep = await tenant.add_user(Role.rep)
    d1 = await new_deal(client, tenant.admin, name="上海地铁 signalling", amount="100", expected_close_date="2027-01-10", source="web", tags=["rail"])
    d2 = await new_deal(client, rep, name="Beijing 地铁 upgrade", amount="5000", expected_close_date="2027-06-01", source="referral")
    d3 = await new_deal(client, tenant.admin, name="Harbour cranes 港口", amount="20000", expected_close_date="2027-12-31")
    await move(client, tenant.admin, d3["id"], st["First contact"])

    async def ids(**params):
        r = await client.get("/v1/opportunities", params=params, headers=tenant.admin.headers)
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["items"]}

    assert await ids(q="地铁") == {d1["id"], d2["id"]}
    assert await ids(q="港口") == {d3["id"]}
    assert await ids(q="SIGNAL") == {d1["id"]}
    assert await ids(q="100%") == set()
    assert await ids(owner_id=str(rep.id)) == {d2["id"]}
    assert await ids(stage_id=st["First contact"]) == {d3["id"]}
    assert await ids(amount_min="1000", amount_max="10000") == {d2["id"]}
    assert await ids(close_from="2027-05-01", close_to="2027-07-01") == {d2["id"]}
    assert await ids(status="open") == {d1["id"], d2["id"], d3["id"]}
    assert await ids(status="won") == set()
    assert await ids(source="web") == {d1["id"]}
    assert await ids(tag="rail") == {d1["id"]}
    assert await ids(stalled="false") == {d1["id"], d2["id"], d3["id"]}
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/opportunities", params=params, headers=tenant.admin.headers)).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [d3["id"], d2["id"], d1["id"]]  # newest first, no repeats
    bad = await client.get("/v1/opportunities", params={"cursor": "garbage"}, headers=tenant.admin.headers)
    assert bad.status_code == 400
    for params in ({"close_to": "0"}, {"amount_min": "-1"}, {"status": "maybe"}, {"limit": 1000}):
        assert (await client.get("/v1/opportunities", params=params, headers=tenant.admin.headers)).status_code == 422


async def test_delete_hides_the_deal_but_keeps_its_history(client, tenant, session):
    deal = await new_deal(client, tenant.admin)
    r = await client.delete(f"/v1/opportunities/{deal['id']}", headers={**tenant.admin.headers, "If-Match": '"1"'})
    assert r.status_code == 204
    assert (await client.get(f"/v1/opportunities/{deal['id']}", headers=tenant.admin.headers)).status_code == 404
    assert (await client.delete(f"/v1/opportunities/{deal['id']}", headers=tenant.admin.headers)).status_code == 404
    rows = (await session.execute(select(StageTransition).where(StageTransition.opportunity_id == deal["id"]))).scalars().all()
    assert len(rows) == 1
    types = (await session.execute(select(Event.type).where(Event.entity_id == deal["id"]))).scalars().all()
    assert "opportunity.deleted" in types
    viewer = await tenant.add_user(Role.viewer)
    other = await new_deal(client, tenant.admin)
    assert (await client.delete(f"/v1/opportunities/{other['id']}", headers=viewer.headers)).status_code == 403


async def test_text_postgresql_cannot_store_is_a_422_not_a_500(client, tenant):
    deal = await new_deal(client, tenant.admin)
    bodies = [
        ("POST", "/v1/opportunities", {"name": "nul \u0000 byte"}),
        ("PATCH", f"/v1/opportunities/{deal['id']}", {"description": "a\u0000b"}),
        ("POST", "/v1/lost-reasons", {"name": "x", "labels": {"zh-CN": "坏\u0000"}}),
        ("POST", "/v1/lost-reasons", {"name": "x", "labels": {"k\u0000": "v"}}),
    ]
    for method, path, body in bodies:
        r = await client.request(method, path, json=body, headers=tenant.admin.headers)
        assert r.status_code == 422, (path, r.text)
    # A lone surrogate (valid JSON, not valid UTF-8) is refused the same way.
    r = await client.post("/v1/opportunities", content=b'{"name": "x\\ud800"}',
                          headers={**tenant.admin.headers, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    for params in ({"q": "a\u0000"}, {"tag": "\u0000"}, {"source": "x\u0000y"}):
        r = await client.get("/v1/opportunities", params=params, headers=tenant.admin.headers)
        assert r.status_code == 422, (params, r.text)


async def test_a_deal_links_only_an_account_of_its_own_organisation(client, tenant, other_tenant):
    h = tenant.admin.headers
    mine = (await client.post("/v1/accounts", json={"name": "华东电力有限公司"}, headers=h)).json()
    theirs = (await client.post("/v1/accounts", json={"name": "Other Ltd"}, headers=other_tenant.admin.headers)).json()
    for account_id in (theirs["id"], "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11"):
        r = await client.post("/v1/opportunities", json={"name": "x", "account_id": account_id}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "account_id"], r.text
    deal = await new_deal(client, tenant.admin, account_id=mine["id"])
    assert deal["account_id"] == mine["id"] and deal["lead_id"] is None
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"account_id": theirs["id"]}, headers=h)
    assert r.status_code == 422
    listed = (await client.get("/v1/opportunities", params={"account_id": mine["id"]}, headers=h)).json()
    assert [d["id"] for d in listed["items"]] == [deal["id"]]


async def test_dates_and_times_out_of_range_are_a_422_and_change_nothing(client, tenant):
    """Times that parse but are year 10000 / year 0 in UTC used to fail in the driver (500)."""
    st = await stages(client, tenant.admin)
    h = tenant.admin.headers
    deal = await new_deal(client, tenant.admin)
    bad_times = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2201-01-01T00:00:00Z"]
    bad_dates = ["9999-12-31", "0001-01-01", "1899-12-31"]

    def range_problem(r) -> bool:
        return r.status_code == 422 and "between 1900-01-01 and 2200-12-31" in r.json()["errors"][0]["msg"]

    for when in bad_times:
        assert range_problem(await client.post("/v1/opportunities", json={"name": "x", "created_at": when}, headers=h))
        assert range_problem(await client.post(f"/v1/opportunities/{deal['id']}/transitions",
                                               json={"to_stage_id": st["First contact"], "occurred_at": when}, headers=h))
    for day in bad_dates:
        assert range_problem(await client.post("/v1/opportunities", json={"name": "x", "expected_close_date": day}, headers=h))
        assert range_problem(await client.patch(f"/v1/opportunities/{deal['id']}", json={"expected_close_date": day}, headers=h))
        for name in ("close_from", "close_to"):
            assert range_problem(await client.get("/v1/opportunities", params={name: day}, headers=h)), (name, day)
    got = (await client.get(f"/v1/opportunities/{deal['id']}", headers=h)).json()
    assert got["version"] == 1 and got["stage_id"] == deal["stage_id"]
    assert [d["id"] for d in (await client.get("/v1/opportunities", headers=h)).json()["items"]] == [deal["id"]]
    # The edges of the range are fine.
    r = await client.patch(f"/v1/opportunities/{deal['id']}", json={"expected_close_date": "2200-12-31"}, headers=h)
    assert r.status_code == 200 and r.json()["expected_close_date"] == "2200-12-31"
