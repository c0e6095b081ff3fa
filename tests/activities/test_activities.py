"""Activities (first response stamping), tasks (the rep's to-do list) and the worker's
task.due / task.reminder and lead.response_overdue events."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
from sqlalchemy import update

from app.activities.service import raise_due_tasks
from app.identity.models import Role
from app.leads.jobs import raise_response_overdue
from app.leads.models import Lead
from tests.support.crm_data import events, lead_body
from tests.support.factories import Tenant

NOW = dt.datetime.now(dt.UTC)


async def test_first_activity_stamps_first_response(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    lead = (await client.post("/v1/leads", json=lead_body(), headers=rep.headers)).json()
    assert lead["first_response_at"] is None
    r = await client.post("/v1/activities", json={"kind": "call", "subject": "首次电话", "lead_id": lead["id"],
                                                  "duration_minutes": 5}, headers=rep.headers)
    assert r.status_code == 201, r.text
    act = r.json()
    assert act["owner_id"] == str(rep.id)
    got = (await client.get(f"/v1/leads/{lead['id']}", headers=rep.headers)).json()
    assert got["first_response_at"] == act["occurred_at"] and got["status"] == "contacted"
    later = await client.post("/v1/activities", json={"kind": "email", "subject": "follow-up", "lead_id": lead["id"]},
                              headers=rep.headers)
    assert later.status_code == 201
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=rep.headers)).json()["first_response_at"] == act["occurred_at"]
    listed = (await client.get("/v1/activities", params={"lead_id": lead["id"], "kind": "call"}, headers=rep.headers)).json()
    assert [a["id"] for a in listed["items"]] == [act["id"]]
    assert (await client.post("/v1/activities", json={"kind": "call", "subject": "x"}, headers=rep.headers)).status_code == 422
    other = await tenant.add_user(Role.rep)
    assert (await client.get(f"/v1/activities/{act['id']}", headers=other.headers)).status_code == 404
    r = await client.patch(f"/v1/activities/{act['id']}", json={"body": "客户有兴趣"}, headers={**rep.headers, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert (await client.delete(f"/v1/activities/{act['id']}", headers=rep.headers)).status_code == 204


async def test_response_overdue_event(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    late = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    fresh = (await client.post("/v1/leads", json=lead_body(email="f@x.example", phone=None), headers=h)).json()
    answered = (await client.post("/v1/leads", json=lead_body(email="a@x.example", phone=None), headers=h)).json()
    await client.post("/v1/activities", json={"kind": "call", "subject": "hi", "lead_id": answered["id"]}, headers=h)
    two_hours_ago = NOW - dt.timedelta(hours=2)
    await tenant.session.execute(update(Lead).where(Lead.id.in_([late["id"], answered["id"]])).values(created_at=two_hours_ago))
    # (Counts are checked on this organisation's events: other tests' committed data may be due too.)
    await raise_response_overdue(tenant.session, None)
    overdue = await events(tenant.session, tenant.id, "lead.response_overdue")
    assert [str(e.entity_id) for e in overdue] == [late["id"]]
    assert overdue[0].payload["minutes_waiting"] >= 119
    await raise_response_overdue(tenant.session, None)
    assert len(await events(tenant.session, tenant.id, "lead.response_overdue")) == 1  # raised once
    # A stricter target (30 minutes) catches the lead created 45 minutes ago.
    await client.put("/v1/lead-settings", json={"grade_a_min": 80, "grade_b_min": 50, "grade_c_min": 20,
                                                 "response_target_minutes": 30}, headers=h)
    await tenant.session.execute(update(Lead).where(Lead.id == fresh["id"]).values(created_at=NOW - dt.timedelta(minutes=45)))
    await raise_response_overdue(tenant.session, None)
    assert len(await events(tenant.session, tenant.id, "lead.response_overdue")) == 2


async def test_tasks_todo_list_and_due_events(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    h = rep.headers
    soon = (NOW + dt.timedelta(hours=1)).isoformat()
    r = await client.post("/v1/tasks", json={"title": "发送报价 Send quote", "due_at": soon,
                                             "remind_at": (NOW - dt.timedelta(minutes=1)).isoformat()}, headers=h)
    assert r.status_code == 201, r.text
    overdue = (await client.post("/v1/tasks", json={"title": "Call back", "due_at": (NOW - dt.timedelta(hours=1)).isoformat()},
                                 headers=h)).json()
    await client.post("/v1/tasks", json={"title": "Later", "due_at": (NOW + dt.timedelta(days=3)).isoformat()}, headers=h)
    todo = (await client.get("/v1/tasks", params={"assignee": "me", "due_before": (NOW + dt.timedelta(days=1)).isoformat()},
                             headers=h)).json()["items"]
    assert [t["title"] for t in todo] == ["Call back", "发送报价 Send quote"]
    assert (await client.get("/v1/tasks", params={"due_before": "0.5"}, headers=h)).status_code == 422
    assert (await client.post("/v1/tasks", json={"title": "x", "due_at": "2026-11-23T10:00:00"}, headers=h)).status_code == 422
    assert await raise_due_tasks(tenant.session, None) >= 2
    assert [e.payload["task"]["title"] for e in await events(tenant.session, tenant.id, "task.due")] == ["Call back"]
    assert [e.payload["task"]["title"] for e in await events(tenant.session, tenant.id, "task.reminder")] == ["发送报价 Send quote"]
    await raise_due_tasks(tenant.session, None)
    assert len(await events(tenant.session, tenant.id, "task.due")) == 1  # announced once
    done = await client.patch(f"/v1/tasks/{overdue['id']}", json={"status": "done"}, headers=h)
    assert done.json()["completed_at"] and (await events(tenant.session, tenant.id, "task.completed"))
    other = await tenant.add_user(Role.rep)
    assert (await client.get(f"/v1/tasks/{overdue['id']}", headers=other.headers)).status_code == 404


# Parse fine, but leave the range PostgreSQL and the driver can store once in UTC
# (year 10000 / year 0), or the range a CRM date can mean (1900..2200).
OUT_OF_RANGE = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z", "2201-01-01T00:00:00Z"]


def _is_range_problem(r: httpx.Response) -> bool:
    return (r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
            and "between 1900-01-01 and 2200-12-31" in r.text)


async def test_date_times_out_of_range_are_a_422_and_change_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    task = (await client.post("/v1/tasks", json={"title": "t", "due_at": NOW.isoformat()}, headers=h)).json()
    act = (await client.post("/v1/activities", json={"kind": "call", "subject": "s", "lead_id": lead["id"]}, headers=h)).json()
    for when in OUT_OF_RANGE:
        body = {"kind": "call", "subject": "s", "lead_id": lead["id"], "occurred_at": when}
        assert _is_range_problem(await client.post("/v1/activities", json=body, headers=h)), when
        for body in ({"title": "t", "due_at": when}, {"title": "t", "due_at": "2200-12-31T00:00:00Z", "remind_at": when}):
            assert _is_range_problem(await client.post("/v1/tasks", json=body, headers=h)), when
        assert _is_range_problem(await client.patch(f"/v1/activities/{act['id']}", json={"occurred_at": when}, headers=h))
        assert _is_range_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"due_at": when}, headers=h))
        for path, name in (("/v1/activities", "occurred_after"), ("/v1/activities", "occurred_before"),
                           ("/v1/tasks", "due_before"), ("/v1/tasks", "due_after"),
                           ("/v1/leads", "created_after"), ("/v1/leads", "created_before")):
            assert _is_range_problem(await client.get(path, params={name: when}, headers=h)), (path, name, when)
    # Nothing changed: one activity, one task, both still version 1, the lead untouched by the refused activities.
    assert [a["version"] for a in (await client.get("/v1/activities", headers=h)).json()["items"]] == [1]
    assert [t["version"] for t in (await client.get("/v1/tasks", headers=h)).json()["items"]] == [1]
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["first_response_at"] == act["occurred_at"]
    # The edges of the range are accepted.
    r = await client.post("/v1/tasks", json={"title": "far", "due_at": "2200-12-31T23:59:59Z",
                                             "remind_at": "1900-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 201, r.text
    r = await client.post("/v1/activities", json={"kind": "note", "subject": "old", "lead_id": lead["id"],
                                                  "occurred_at": "1900-01-01T00:00:00+00:00"}, headers=h)
    assert r.status_code == 201, r.text


def _without_ids(problem: dict) -> dict:
    return {k: v for k, v in problem.items() if k not in ("request_id", "instance")}


async def test_a_rep_cannot_log_on_or_task_records_they_cannot_see(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Logging on another rep's lead used to move it to contacted and stamp its first
    response (stopping its overdue alert). Records out of sight answer like unknown ids."""
    a, b = await tenant.add_user(Role.rep), await tenant.add_user(Role.rep)
    lead = (await client.post("/v1/leads", json=lead_body(), headers=a.headers)).json()
    account = (await client.post("/v1/accounts", json={"name": "A's account"}, headers=a.headers)).json()
    contact = (await client.post("/v1/contacts", json={"last_name": "王", "account_id": account["id"]}, headers=a.headers)).json()
    deal = (await client.post("/v1/opportunities", json={"name": "A's deal"}, headers=a.headers)).json()
    refs = {"lead_id": lead["id"], "account_id": account["id"], "contact_id": contact["id"], "opportunity_id": deal["id"]}
    unknown = "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11"
    for field, ref in refs.items():
        for path, body in (("/v1/activities", {"kind": "call", "subject": "hi"}), ("/v1/tasks", {"title": "t", "due_at": NOW.isoformat()})):
            hidden = await client.post(path, json={**body, field: ref}, headers=b.headers)
            missing = await client.post(path, json={**body, field: unknown}, headers=b.headers)
            assert hidden.status_code == missing.status_code == 422, (path, field, hidden.text)
            assert _without_ids(hidden.json()) == _without_ids(missing.json())
            # Their owner can.
            assert (await client.post(path, json={**body, field: ref}, headers=a.headers)).status_code == 201, (path, field)
    # B's attempts changed nothing: the lead was contacted by A's activity alone, B has nothing.
    assert (await client.get("/v1/activities", headers=b.headers)).json()["items"] == []
    assert (await client.get("/v1/tasks", headers=b.headers)).json()["items"] == []
    first = (await client.get("/v1/activities", params={"lead_id": lead["id"]}, headers=a.headers)).json()["items"]
    assert [x["owner_id"] for x in first] == [str(a.id)]


async def test_tasks_go_only_to_people_the_caller_may_assign(client: httpx.AsyncClient, tenant: Tenant) -> None:
    manager = await tenant.add_user(Role.manager)
    team = await tenant.add_team("East", manager=manager)
    a, b = await tenant.add_user(Role.rep, team=team), await tenant.add_user(Role.rep)
    due = NOW.isoformat()
    # The owner rule of every record (app/identity/owners.py): a rep only themselves (403).
    r = await client.post("/v1/tasks", json={"title": "t", "due_at": due, "assignee_id": str(b.id)}, headers=a.headers)
    assert r.status_code == 403
    own = await client.post("/v1/tasks", json={"title": "mine", "due_at": due, "assignee_id": str(a.id)}, headers=a.headers)
    assert own.status_code == 201
    r = await client.patch(f"/v1/tasks/{own.json()['id']}", json={"assignee_id": str(b.id)}, headers=a.headers)
    assert r.status_code == 403
    # A manager within their team, not outside it (422); an admin anyone.
    assert (await client.post("/v1/tasks", json={"title": "t", "due_at": due, "assignee_id": str(a.id)},
                              headers=manager.headers)).status_code == 201
    r = await client.post("/v1/tasks", json={"title": "t", "due_at": due, "assignee_id": str(b.id)}, headers=manager.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "assignee_id"]
    assert (await client.post("/v1/tasks", json={"title": "t", "due_at": due, "assignee_id": str(b.id)},
                              headers=tenant.admin.headers)).status_code == 201
    assert [t["title"] for t in (await client.get("/v1/tasks", headers=b.headers)).json()["items"]] == ["t"]
    assert (await client.get(f"/v1/tasks/{own.json()['id']}", headers=a.headers)).json()["version"] == 1


async def test_the_first_activity_is_a_new_version_of_the_lead(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """A client holding ETag "1" must not write status new back over the contacted lead."""
    rep = await tenant.add_user(Role.rep)
    lead = await client.post("/v1/leads", json=lead_body(), headers=rep.headers)
    assert lead.headers["ETag"] == '"1"'
    lead_id = lead.json()["id"]
    await client.post("/v1/activities", json={"kind": "call", "subject": "hi", "lead_id": lead_id}, headers=rep.headers)
    got = await client.get(f"/v1/leads/{lead_id}", headers=rep.headers)
    assert got.json()["status"] == "contacted" and got.headers["ETag"] == '"2"' and got.json()["version"] == 2
    stale = await client.patch(f"/v1/leads/{lead_id}", json={"status": "new"}, headers={**rep.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(f"/v1/leads/{lead_id}", headers=rep.headers)).json()["status"] == "contacted"
    updated = [e for e in await events(tenant.session, tenant.id, "lead.updated") if str(e.entity_id) == lead_id]
    assert len(updated) == 1 and {"status", "first_response_at", "version"} <= set(updated[0].payload["changed"])
    assert updated[0].payload["lead"]["status"] == "contacted"
    # A later activity changes nothing on the lead: same version, no new event.
    await client.post("/v1/activities", json={"kind": "email", "subject": "again", "lead_id": lead_id}, headers=rep.headers)
    assert (await client.get(f"/v1/leads/{lead_id}", headers=rep.headers)).headers["ETag"] == '"2"'
    # A back-dated one moves the first response earlier: again a new version.
    earlier = (NOW - dt.timedelta(days=1)).isoformat()
    await client.post("/v1/activities", json={"kind": "email", "subject": "earlier", "lead_id": lead_id, "occurred_at": earlier},
                      headers=rep.headers)
    got = await client.get(f"/v1/leads/{lead_id}", headers=rep.headers)
    assert got.headers["ETag"] == '"3"' and got.json()["first_response_at"].startswith(earlier[:19])


async def test_simultaneous_first_activities_contact_the_lead_once(committed_client: httpx.AsyncClient,
                                                                   committed_tenant: Tenant) -> None:
    """Each activity's foreign key holds a KEY SHARE lock on the lead; the stamp must not
    wait for a stronger lock than an UPDATE's, or two of them deadlock."""
    h = committed_tenant.admin.headers
    lead = (await committed_client.post("/v1/leads", json=lead_body(email="conc@x.example", phone=None), headers=h)).json()
    responses = await asyncio.gather(*(committed_client.post(
        "/v1/activities", json={"kind": "call", "subject": f"c{i}", "lead_id": lead["id"]}, headers=h) for i in range(6)))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses if r.status_code != 201]
    got = (await committed_client.get(f"/v1/leads/{lead['id']}", headers=h)).json()
    # Later commits with an earlier occurred_at move the stamp back again (a version each).
    assert got["status"] == "contacted" and 2 <= got["version"] <= 7
    assert got["first_response_at"] == min(r.json()["occurred_at"] for r in responses)


async def test_moving_or_deleting_the_earliest_activity_moves_the_first_response(client: httpx.AsyncClient,
                                                                                 tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    at = [(NOW - dt.timedelta(hours=k)).isoformat() for k in (3, 2)]
    wrong = (await client.post("/v1/activities", json={"kind": "call", "subject": "wrong lead", "lead_id": lead["id"],
                                                      "occurred_at": at[0]}, headers=h)).json()
    real = (await client.post("/v1/activities", json={"kind": "call", "subject": "real", "lead_id": lead["id"],
                                                     "occurred_at": at[1]}, headers=h)).json()

    def first(body: dict) -> dt.datetime:
        return dt.datetime.fromisoformat(body["first_response_at"])

    got = (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()
    assert first(got) == dt.datetime.fromisoformat(at[0])
    # Moved later than the other one: the other is now the first response.
    later = (NOW - dt.timedelta(hours=1)).isoformat()
    r = await client.patch(f"/v1/activities/{wrong['id']}", json={"occurred_at": later}, headers=h)
    assert r.status_code == 200, r.text
    got = (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()
    assert first(got) == dt.datetime.fromisoformat(at[1]) and got["version"] == lead["version"] + 2
    # Deleted: the one left stays; deleting that too leaves no first response, still contacted.
    assert (await client.delete(f"/v1/activities/{real['id']}", headers=h)).status_code == 204
    got = (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()
    assert first(got) == dt.datetime.fromisoformat(later)
    assert (await client.delete(f"/v1/activities/{wrong['id']}", headers=h)).status_code == 204
    got = (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()
    assert got["first_response_at"] is None and got["status"] == "contacted"
