"""Users: admin CRUD, validation, concurrency, audit and events, /v1/me."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEntry
from app.core.events import Event
from app.identity.models import Role, User
from tests.identity.helpers import bearer, sign_in, tokens_for
from tests.support.factories import (
    TEST_PASSWORD,
    Tenant,
    known_password_hash,
    unique_email,
)


def new_user(**over: object) -> dict[str, object]:
    body: dict[str, object] = {"email": unique_email("new"), "full_name": "Chen Jing 陈静", "role": "rep",
                               "password": "a long enough password", "approval_groups": ["Finance", "legal"]}
    body.update(over)
    return body


async def count_users(session: AsyncSession, tenant: Tenant) -> int:
    return await session.scalar(select(func.count()).select_from(User).where(User.org_id == tenant.id))


async def test_admin_creates_a_user_who_can_sign_in(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    team = await tenant.add_team("East 华东")
    body = new_user(team_id=str(team.id))
    created = await client.post("/v1/users", headers=tenant.admin.headers, json=body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["full_name"] == "Chen Jing 陈静" and user["team_id"] == str(team.id)
    assert user["approval_groups"] == ["finance", "legal"] and user["version"] == 1
    assert created.headers["etag"] == '"1"' and created.headers["location"] == f"/v1/users/{user['id']}"
    assert "password" not in created.text and "hash" not in created.text

    pair = await tokens_for(client, str(body["email"]), "a long enough password")
    me = (await client.get("/v1/me", headers=bearer(pair["access_token"]))).json()
    assert me["user"]["id"] == user["id"] and me["team"]["id"] == str(team.id)

    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.entity_id == uuid.UUID(user["id"])))).all()
    assert [(a.action.value, a.actor_id) for a in audit] == [("create", tenant.admin.id)]
    assert audit[0].changes["email"] == {"before": None, "after": body["email"]}
    event = await session.scalar(select(Event).where(Event.org_id == tenant.id, Event.type == "user.created",
                                                     Event.entity_id == uuid.UUID(user["id"])))
    assert event.payload["user"]["id"] == user["id"] and "password_hash" not in event.payload["user"]


async def test_duplicate_email_is_a_conflict_whatever_the_case(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    before = await count_users(session, tenant)
    for email in (tenant.admin.user.email.upper(), other_tenant.admin.user.email):
        response = await client.post("/v1/users", headers=tenant.admin.headers, json=new_user(email=email))
        assert response.status_code == 409 and response.json()["code"] == "email-taken"
    assert await count_users(session, tenant) == before


async def test_mass_assignment_is_refused(client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant,
                                          session: AsyncSession) -> None:
    before = await count_users(session, other_tenant)
    for smuggled in ({"org_id": str(other_tenant.id)}, {"id": str(uuid.uuid4())}, {"version": 7},
                     {"created_at": "2020-01-01T00:00:00Z"}, {"password_hash": "x"}, {"is_active": False}):
        response = await client.post("/v1/users", headers=tenant.admin.headers, json=new_user(**smuggled))
        assert response.status_code == 422, smuggled
        assert response.json()["errors"][0]["loc"][-1] == next(iter(smuggled))
    assert await count_users(session, other_tenant) == before


async def test_invalid_users_are_refused_with_field_errors(client: httpx.AsyncClient, tenant: Tenant,
                                                           other_tenant: Tenant) -> None:
    foreign_team = await other_tenant.add_team("Theirs")
    cases = {
        "email": new_user(email="not-an-email"),
        "role": new_user(role="superuser"),
        "password": new_user(password="short"),
        "full_name": new_user(full_name="   "),
        "team_id": new_user(team_id=str(foreign_team.id)),
        "approval_groups": new_user(approval_groups=["has space"]),
    }
    for field, body in cases.items():
        response = await client.post("/v1/users", headers=tenant.admin.headers, json=body)
        assert response.status_code == 422, (field, response.text)
        assert field in response.json()["errors"][0]["loc"], (field, response.text)


async def test_only_admins_create_and_edit_users(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for role in (Role.manager, Role.rep, Role.viewer):
        actor = await tenant.add_user(role)
        created = await client.post("/v1/users", headers=actor.headers, json=new_user())
        assert created.status_code == 403, role
        assert created.headers["content-type"].startswith("application/problem+json")
        patched = await client.patch(f"/v1/users/{actor.id}", headers=actor.headers, json={"role": "admin"})
        assert patched.status_code == 403, role
        # Everyone in the organisation can read the directory (to assign and mention people).
        assert (await client.get(f"/v1/users/{tenant.admin.id}", headers=actor.headers)).status_code == 200


async def test_update_with_if_match(client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession) -> None:
    rep = await tenant.add_user(Role.rep)
    read = await client.get(f"/v1/users/{rep.id}", headers=tenant.admin.headers)
    etag = read.headers["etag"]
    ok = await client.patch(f"/v1/users/{rep.id}", headers={**tenant.admin.headers, "If-Match": etag},
                            json={"role": "manager", "approval_groups": ["finance"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["role"] == "manager" and ok.json()["version"] == 2 and ok.headers["etag"] == '"2"'
    stale = await client.patch(f"/v1/users/{rep.id}", headers={**tenant.admin.headers, "If-Match": etag},
                               json={"full_name": "Lost update"})
    assert stale.status_code == 412
    assert (await client.get(f"/v1/users/{rep.id}", headers=tenant.admin.headers)).json()["full_name"] != "Lost update"
    audit = await session.scalar(select(AuditEntry).where(AuditEntry.entity_id == rep.id,
                                                          AuditEntry.action == "update"))
    assert audit.changes == {"approval_groups": {"before": [], "after": ["finance"]},
                             "role": {"before": "rep", "after": "manager"},
                             "version": {"before": 1, "after": 2}}


async def test_noop_update_changes_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, name="Same")
    response = await client.patch(f"/v1/users/{rep.id}", headers=tenant.admin.headers, json={"full_name": "Same"})
    assert response.status_code == 200 and response.json()["version"] == 1


async def test_the_last_admin_cannot_be_demoted_or_deactivated(client: httpx.AsyncClient, tenant: Tenant) -> None:
    admin = tenant.admin
    demote = await client.patch(f"/v1/users/{admin.id}", headers=admin.headers, json={"role": "rep"})
    assert demote.status_code == 409 and demote.json()["code"] == "last-admin"
    assert (await client.delete(f"/v1/users/{admin.id}", headers=admin.headers)).status_code == 409
    second = await tenant.add_user(Role.admin)
    assert (await client.patch(f"/v1/users/{admin.id}", headers=admin.headers, json={"role": "rep"})).status_code == 200
    assert (await client.delete(f"/v1/users/{second.id}", headers=second.headers)).status_code == 409


async def test_deactivated_user_keeps_records_and_can_be_reactivated(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    gone = await client.delete(f"/v1/users/{rep.id}", headers=tenant.admin.headers)
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert (await sign_in(client, rep.user.email)).status_code == 401
    listed = await client.get("/v1/users", params={"is_active": False}, headers=tenant.admin.headers)
    assert [u["id"] for u in listed.json()["items"]] == [str(rep.id)]
    back = await client.patch(f"/v1/users/{rep.id}", headers=tenant.admin.headers, json={"is_active": True})
    assert back.status_code == 200 and back.json()["is_active"] is True
    assert (await sign_in(client, rep.user.email)).status_code == 200
    types = (await session.scalars(select(Event.type).where(Event.entity_id == rep.id).order_by(Event.seq))).all()
    assert types == ["user.deactivated", "user.reactivated"]


async def test_list_filters_and_pages(client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant) -> None:
    team = await tenant.add_team("North")
    reps = [await tenant.add_user(Role.rep, team=team, name=f"Rep {i} 王") for i in range(5)]
    await tenant.add_user(Role.manager, approval_groups=["legal"])
    await other_tenant.add_user(Role.rep, team=None)
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/users", headers=tenant.admin.headers,
                                 params={"role": "rep", "limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [str(r.id) for r in reps]
    by_team = await client.get("/v1/users", params={"team_id": str(team.id)}, headers=tenant.admin.headers)
    assert len(by_team.json()["items"]) == 5
    search = await client.get("/v1/users", params={"q": "rep 3"}, headers=tenant.admin.headers)
    assert [u["full_name"] for u in search.json()["items"]] == ["Rep 3 王"]
    legal = await client.get("/v1/users", params={"approval_group": "legal"}, headers=tenant.admin.headers)
    assert [u["role"] for u in legal.json()["items"]] == ["manager"]
    wild = await client.get("/v1/users", params={"q": "%"}, headers=tenant.admin.headers)
    assert wild.json()["items"] == []


async def test_change_own_password_ends_other_sessions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    pair = await tokens_for(client, rep.user.email)
    wrong = await client.post("/v1/me/password", headers=rep.headers,
                              json={"current_password": "nope", "new_password": "brand new password"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong-password"
    ok = await client.post("/v1/me/password", headers=rep.headers,
                           json={"current_password": TEST_PASSWORD, "new_password": "brand new password"})
    assert ok.status_code == 204
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert (await sign_in(client, rep.user.email)).status_code == 401
    assert (await sign_in(client, rep.user.email, "brand new password")).status_code == 200


async def test_admin_sets_a_password(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    response = await client.post(f"/v1/users/{rep.id}/password", headers=tenant.admin.headers,
                                 json={"password": "set by the admin"})
    assert response.status_code == 204
    assert (await sign_in(client, rep.user.email, "set by the admin")).status_code == 200
    assert (await client.post(f"/v1/users/{rep.id}/password", headers=rep.headers,
                              json={"password": "my own choice!"})).status_code == 403


async def test_me_for_a_manager_lists_managed_teams(client: httpx.AsyncClient, tenant: Tenant) -> None:
    manager = await tenant.add_user(Role.manager)
    team = await tenant.add_team("Managed", manager=manager)
    me = (await client.get("/v1/me", headers=manager.headers)).json()
    assert me["kind"] == "user" and me["manages_team_ids"] == [str(team.id)] and me["scopes"] == ["*"]


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    committed_app, committed_client: httpx.AsyncClient, database
) -> None:
    import asyncio

    from app.identity.models import Org
    from tests.support.factories import actor_for, create_tenant

    async with database.sessionmaker() as s:
        tenant = await create_tenant(committed_app, s, "Admin race")
        second = User(org_id=tenant.id, email=unique_email("admin2"), full_name="Second", role=Role.admin)
        s.add(second)
        await s.commit()
    a, b = tenant.admin, actor_for(committed_app, second)
    try:
        results = await asyncio.gather(
            committed_client.patch(f"/v1/users/{b.id}", headers=a.headers, json={"role": "rep"}),
            committed_client.patch(f"/v1/users/{a.id}", headers=b.headers, json={"role": "rep"}),
        )
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        async with database.sessionmaker() as s:
            admins = await s.scalar(select(func.count()).select_from(User).where(
                User.org_id == tenant.id, User.role == Role.admin))
            assert admins == 1
    finally:
        async with database.sessionmaker() as s, s.begin():
            await s.execute(Org.__table__.delete().where(Org.id == tenant.id))


async def test_email_change_keeps_emails_unique(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    other = await tenant.add_user(Role.rep)
    taken = await client.patch(f"/v1/users/{rep.id}", headers=tenant.admin.headers,
                               json={"email": other.user.email.upper()})
    assert taken.status_code == 409 and taken.json()["code"] == "email-taken"
    new_email = unique_email("renamed")
    moved = await client.patch(f"/v1/users/{rep.id}", headers=tenant.admin.headers, json={"email": new_email})
    assert moved.status_code == 200 and moved.json()["email"] == new_email
    assert (await sign_in(client, new_email)).status_code == 200
    assert (await sign_in(client, rep.user.email)).status_code == 401
