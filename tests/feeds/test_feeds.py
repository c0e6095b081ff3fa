"""GET /v1/audit-log and GET /v1/events: filters, paging, tenancy and who may read."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from app.identity.models import Role
from tests.identity.helpers import bearer
from tests.support.factories import (
    TEST_PASSWORD,
    Actor,
    Tenant,
    known_password_hash,
    unique_email,
)


async def change_password(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await client.post("/v1/me/password", headers=actor.headers,
                                 json={"current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD + "!"})
    assert response.status_code == 204, response.text


@pytest.fixture
async def org_chart(tenant: Tenant) -> dict[str, Actor]:
    """Sales (director) > East (east manager) and North (north manager), a rep in each."""
    director = await tenant.add_user(Role.manager, name="Director")
    east_mgr = await tenant.add_user(Role.manager, name="East manager")
    north_mgr = await tenant.add_user(Role.manager, name="North manager")
    sales = await tenant.add_team("Sales", manager=director)
    east = await tenant.add_team("East", parent=sales, manager=east_mgr)
    north = await tenant.add_team("North", parent=sales, manager=north_mgr)
    known = known_password_hash()
    return {
        "director": director, "east_mgr": east_mgr, "north_mgr": north_mgr,
        "rep_east": await tenant.add_user(Role.rep, team=east, password_hash=known),
        "rep_north": await tenant.add_user(Role.rep, team=north, password_hash=known),
        "viewer": await tenant.add_user(Role.viewer),
    }


async def audit_actors(client: httpx.AsyncClient, actor: Actor, **params: object) -> set[str]:
    response = await client.get("/v1/audit-log", headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    return {e["actor_id"] for e in response.json()["items"]}


async def test_managers_read_the_audit_of_their_subtree_only(
    client: httpx.AsyncClient, tenant: Tenant, org_chart: dict[str, Actor]
) -> None:
    rep_east, rep_north = org_chart["rep_east"], org_chart["rep_north"]
    await change_password(client, rep_east)
    await change_password(client, rep_north)
    east, north = str(rep_east.id), str(rep_north.id)

    assert await audit_actors(client, org_chart["east_mgr"]) == {east}
    assert await audit_actors(client, org_chart["north_mgr"]) == {north}
    assert {east, north} <= await audit_actors(client, org_chart["director"])  # the subtree, two levels
    assert {east, north} <= await audit_actors(client, tenant.admin)
    # A peer's entry stays hidden even when asked for by id.
    assert await audit_actors(client, org_chart["east_mgr"], actor_id=north) == set()


async def test_reps_and_viewers_cannot_read_the_audit_log(
    client: httpx.AsyncClient, org_chart: dict[str, Actor]
) -> None:
    for who in ("rep_east", "viewer"):
        response = await client.get("/v1/audit-log", headers=org_chart[who].headers)
        assert response.status_code == 403 and response.json()["code"] == "forbidden", who


async def test_audit_log_filters_and_pages(client: httpx.AsyncClient, tenant: Tenant) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    ids = []
    for i in range(3):
        created = await client.post("/v1/teams", headers=tenant.admin.headers, json={"name": f"T{i}"})
        ids.append(created.json()["id"])
    await client.patch(f"/v1/teams/{ids[0]}", headers=tenant.admin.headers, json={"name": "renamed"})

    one = (await client.get("/v1/audit-log", headers=tenant.admin.headers,
                            params={"entity_id": ids[0]})).json()["items"]
    assert [e["action"] for e in one] == ["update", "create"]  # newest first
    assert one[0]["changes"]["name"] == {"before": "T0", "after": "renamed"}
    assert one[0]["actor_id"] == str(tenant.admin.id) and one[0]["actor_kind"] == "user"

    pages, cursor = [], None
    while True:
        params: dict[str, object] = {"entity_type": "team", "limit": 2, "since": start.isoformat()}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/audit-log", headers=tenant.admin.headers, params=params)).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    flat = [e["id"] for p in pages for e in p]
    assert len(flat) == 4 and len(set(flat)) == 4 and [len(p) for p in pages] == [2, 2]

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert (await client.get("/v1/audit-log", headers=tenant.admin.headers,
                             params={"since": future})).json()["items"] == []
    assert len((await client.get("/v1/audit-log", headers=tenant.admin.headers,
                                 params={"until": future, "entity_type": "team"})).json()["items"]) == 4
    bad = await client.get("/v1/audit-log", headers=tenant.admin.headers, params={"since": "yesterday"})
    assert bad.status_code == 422
    naive = await client.get("/v1/audit-log", headers=tenant.admin.headers, params={"since": "2026-11-23T08:00:00"})
    assert naive.status_code == 422


async def test_feeds_never_show_another_organisation(client: httpx.AsyncClient, tenant: Tenant,
                                                     other_tenant: Tenant) -> None:
    theirs = await client.post("/v1/teams", headers=other_tenant.admin.headers, json={"name": "Secret"})
    their_id = theirs.json()["id"]
    for path in ("/v1/audit-log", "/v1/events"):
        response = await client.get(path, headers=tenant.admin.headers, params={"entity_id": their_id})
        assert response.status_code == 200 and response.json()["items"] == [], path
        everything = await client.get(path, headers=tenant.admin.headers, params={"limit": 200})
        assert their_id not in everything.text and "Secret" not in everything.text


async def test_events_poll_by_sequence_with_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # Whatever bootstrap recorded, polling starts from the feed's current end.
    start = 0
    while True:
        page = (await client.get("/v1/events", headers=tenant.admin.headers,
                                 params={"after_seq": start, "limit": 200})).json()
        start = page["next_after_seq"]
        if not page["has_more"]:
            break
    team = (await client.post("/v1/teams", headers=tenant.admin.headers, json={"name": "Polled"})).json()
    user = (await client.post("/v1/users", headers=tenant.admin.headers, json={
        "email": unique_email(), "full_name": "Polled user", "role": "rep", "team_id": team["id"]})).json()
    await client.patch(f"/v1/teams/{team['id']}", headers=tenant.admin.headers, json={"name": "Polled 2"})

    first = (await client.get("/v1/events", headers=tenant.admin.headers,
                              params={"limit": 2, "after_seq": start})).json()
    assert [e["type"] for e in first["items"]] == ["team.created", "user.created"]
    assert [e["seq"] for e in first["items"]] == [start + 1, start + 2] and first["has_more"] is True
    assert first["items"][1]["payload"]["user"]["full_name"] == "Polled user"
    rest = (await client.get("/v1/events", headers=tenant.admin.headers,
                             params={"after_seq": first["next_after_seq"]})).json()
    assert [e["type"] for e in rest["items"]] == ["team.updated"] and rest["has_more"] is False
    assert rest["items"][0]["payload"]["changes"]["name"] == {"before": "Polled", "after": "Polled 2"}
    idle = (await client.get("/v1/events", headers=tenant.admin.headers,
                             params={"after_seq": rest["next_after_seq"]})).json()
    assert idle == {"items": [], "next_after_seq": rest["next_after_seq"], "has_more": False}

    typed = (await client.get("/v1/events", headers=tenant.admin.headers,
                              params=[("type", "user.created"), ("type", "team.updated"),
                                      ("after_seq", start)])).json()
    assert [e["type"] for e in typed["items"]] == ["user.created", "team.updated"]
    about = (await client.get("/v1/events", headers=tenant.admin.headers,
                              params={"entity_type": "user", "entity_id": user["id"]})).json()
    assert [e["type"] for e in about["items"]] == ["user.created"]


async def test_events_are_for_principals_that_read_the_whole_org(
    client: httpx.AsyncClient, tenant: Tenant, org_chart: dict[str, Actor]
) -> None:
    assert (await client.get("/v1/events", headers=tenant.admin.headers)).status_code == 200
    assert (await client.get("/v1/events", headers=org_chart["viewer"].headers)).status_code == 200
    for who in ("director", "rep_east"):
        assert (await client.get("/v1/events", headers=org_chart[who].headers)).status_code == 403, who
    key = (await client.post("/v1/api-keys", headers=tenant.admin.headers,
                             json={"name": "poller", "scopes": ["events:read"]})).json()["key"]
    assert (await client.get("/v1/events", headers=bearer(key))).status_code == 200
    assert (await client.get("/v1/audit-log", headers=bearer(key))).status_code == 403


async def test_api_key_actions_are_audited_as_the_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = (await client.post("/v1/api-keys", headers=tenant.admin.headers,
                                 json={"name": "provisioning", "scopes": ["teams:write", "audit:read"]})).json()
    team = (await client.post("/v1/teams", headers=bearer(created["key"]), json={"name": "By key"})).json()
    entries = (await client.get("/v1/audit-log", headers=bearer(created["key"]),
                                params={"entity_id": team["id"]})).json()["items"]
    assert [(e["actor_id"], e["actor_kind"]) for e in entries] == [(created["id"], "api_key")]
    assert uuid.UUID(entries[0]["entity_id"]) == uuid.UUID(team["id"])


async def test_feed_times_out_of_range_are_a_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """They parse, but are year 10000 / year 0 in UTC: the database call used to fail (500)."""
    for when in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"):
        for name in ("since", "until"):
            r = await client.get("/v1/audit-log", headers=tenant.admin.headers, params={name: when})
            assert r.status_code == 422 and "between 1900-01-01 and 2200-12-31" in r.text, (name, when, r.text)
