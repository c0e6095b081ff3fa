"""Teams: the hierarchy with a manager each, its rules, and who may change it."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import Event
from app.identity.models import Role, Team
from tests.support.factories import Tenant


async def create(client: httpx.AsyncClient, tenant: Tenant, **body: object) -> dict:
    response = await client.post("/v1/teams", headers=tenant.admin.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_build_a_hierarchy_with_managers(client: httpx.AsyncClient, tenant: Tenant,
                                               session: AsyncSession) -> None:
    director = await tenant.add_user(Role.manager, name="Director 王总")
    regional = await tenant.add_user(Role.manager)
    sales = await create(client, tenant, name="Sales 销售部", manager_id=str(director.id))
    east = await create(client, tenant, name="East 华东", parent_id=sales["id"], manager_id=str(regional.id))
    assert east["parent_id"] == sales["id"] and east["manager_id"] == str(regional.id) and east["version"] == 1
    children = await client.get("/v1/teams", params={"parent_id": sales["id"]}, headers=tenant.admin.headers)
    assert [t["id"] for t in children.json()["items"]] == [east["id"]]
    event = await session.scalar(select(Event).where(Event.entity_id == uuid.UUID(east["id"])))
    assert event.type == "team.created" and event.payload["team"]["name"] == "East 华东"


async def test_manager_must_be_an_active_manager_or_admin_of_the_org(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    rep = await tenant.add_user(Role.rep)
    foreign = await other_tenant.add_user(Role.manager)
    for manager in (rep.id, foreign.id, uuid.uuid4()):
        response = await client.post("/v1/teams", headers=tenant.admin.headers,
                                     json={"name": "T", "manager_id": str(manager)})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "manager_id"]
    assert (await create(client, tenant, name="Admin-led", manager_id=str(tenant.admin.id)))["manager_id"]


async def test_parent_must_be_in_the_org_and_cycles_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await other_tenant.add_team("Theirs")
    refused = await client.post("/v1/teams", headers=tenant.admin.headers,
                                json={"name": "T", "parent_id": str(theirs.id)})
    assert refused.status_code == 422
    top = await create(client, tenant, name="Top")
    mid = await create(client, tenant, name="Mid", parent_id=top["id"])
    low = await create(client, tenant, name="Low", parent_id=mid["id"])
    for parent in (low["id"], top["id"]):
        cycle = await client.patch(f"/v1/teams/{top['id']}", headers=tenant.admin.headers,
                                   json={"parent_id": parent})
        assert cycle.status_code == 422 and cycle.json()["code"] == "team-cycle", parent
    moved = await client.patch(f"/v1/teams/{low['id']}", headers=tenant.admin.headers, json={"parent_id": top["id"]})
    assert moved.status_code == 200 and moved.json()["parent_id"] == top["id"] and moved.json()["version"] == 2
    detached = await client.patch(f"/v1/teams/{low['id']}", headers=tenant.admin.headers, json={"parent_id": None})
    assert detached.json()["parent_id"] is None


async def test_update_needs_the_current_version(client: httpx.AsyncClient, tenant: Tenant) -> None:
    team = await create(client, tenant, name="Before")
    ok = await client.patch(f"/v1/teams/{team['id']}", headers={**tenant.admin.headers, "If-Match": '"1"'},
                            json={"name": "After"})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.patch(f"/v1/teams/{team['id']}", headers={**tenant.admin.headers, "If-Match": '"1"'},
                               json={"name": "Lost"})
    assert stale.status_code == 412
    garbage = await client.patch(f"/v1/teams/{team['id']}", headers={**tenant.admin.headers, "If-Match": "nope"},
                                 json={"name": "Lost"})
    assert garbage.status_code == 422
    assert (await client.get(f"/v1/teams/{team['id']}", headers=tenant.admin.headers)).json()["name"] == "After"


async def test_only_empty_teams_are_deleted(client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession) -> None:
    parent = await create(client, tenant, name="Parent")
    child = await create(client, tenant, name="Child", parent_id=parent["id"])
    with_child = await client.delete(f"/v1/teams/{parent['id']}", headers=tenant.admin.headers)
    assert with_child.status_code == 409 and with_child.json()["code"] == "team-not-empty"
    member = await tenant.add_user(Role.rep, team=await session.get(Team, uuid.UUID(child["id"])))
    assert (await client.delete(f"/v1/teams/{child['id']}", headers=tenant.admin.headers)).status_code == 409
    await client.patch(f"/v1/users/{member.id}", headers=tenant.admin.headers, json={"team_id": None})
    assert (await client.delete(f"/v1/teams/{child['id']}", headers=tenant.admin.headers)).status_code == 204
    assert (await client.get(f"/v1/teams/{child['id']}", headers=tenant.admin.headers)).status_code == 404
    types = (await session.scalars(
        select(Event.type).where(Event.entity_id == uuid.UUID(child["id"])).order_by(Event.seq))).all()
    assert types == ["team.created", "team.deleted"]


async def test_non_admins_read_but_do_not_change_teams(client: httpx.AsyncClient, tenant: Tenant) -> None:
    team = await create(client, tenant, name="Readable")
    for role in (Role.manager, Role.rep, Role.viewer):
        actor = await tenant.add_user(role)
        assert (await client.get(f"/v1/teams/{team['id']}", headers=actor.headers)).status_code == 200
        assert (await client.post("/v1/teams", headers=actor.headers, json={"name": "x"})).status_code == 403
        assert (await client.patch(f"/v1/teams/{team['id']}", headers=actor.headers,
                                   json={"name": "x"})).status_code == 403
        assert (await client.delete(f"/v1/teams/{team['id']}", headers=actor.headers)).status_code == 403
