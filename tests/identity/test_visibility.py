"""The shared visibility rule (app/identity/principal.py) on real rows: rep -> own,
manager -> own + the team subtree they manage or belong to, admin/viewer/API key -> org.
Every domain filters its records with visible_owner_clause, so it is pinned down here on
the user table (owner column = the user id)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import Role, User
from app.identity.principal import Principal, visible_owner_clause
from tests.support.factories import Tenant


async def visible(session: AsyncSession, principal: Principal) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(User.id).where(User.org_id == principal.org_id, visible_owner_clause(principal, User.id))
    )
    return set(rows)


async def test_visibility_by_role(session: AsyncSession, tenant: Tenant, other_tenant: Tenant) -> None:
    director = await tenant.add_user(Role.manager)
    sales = await tenant.add_team("Sales", manager=director)
    east_mgr = await tenant.add_user(Role.manager)
    east = await tenant.add_team("East", parent=sales, manager=east_mgr)
    east_core = await tenant.add_team("East core", parent=east)
    north = await tenant.add_team("North", parent=sales)
    rep_east = await tenant.add_user(Role.rep, team=east)
    rep_core = await tenant.add_user(Role.rep, team=east_core)
    rep_north = await tenant.add_user(Role.rep, team=north)
    member_mgr = await tenant.add_user(Role.manager, team=north)  # belongs to North, manages nothing
    viewer = await tenant.add_user(Role.viewer)
    outsider = await other_tenant.add_user(Role.rep)

    everyone = {director.id, east_mgr.id, rep_east.id, rep_core.id, rep_north.id, member_mgr.id, viewer.id,
                tenant.admin.id}
    assert await visible(session, rep_east.principal) == {rep_east.id}  # not the peer in North
    assert await visible(session, east_mgr.principal) == {east_mgr.id, rep_east.id, rep_core.id}
    assert await visible(session, director.principal) == {director.id, rep_east.id, rep_core.id, rep_north.id,
                                                           member_mgr.id}
    assert await visible(session, member_mgr.principal) == {member_mgr.id, rep_north.id}
    assert await visible(session, tenant.admin.principal) == everyone
    assert await visible(session, viewer.principal) == everyone
    key = Principal(org_id=tenant.id, role=Role.admin, kind="api_key", api_key_id=uuid.uuid4(),
                    scopes=frozenset({"*:read"}))
    assert await visible(session, key) == everyone
    assert outsider.id not in await visible(session, tenant.admin.principal)


def test_scopes_and_roles() -> None:
    org = uuid.uuid4()
    viewer = Principal(org_id=org, role=Role.viewer, user_id=uuid.uuid4())
    assert viewer.allows("opportunities", "read") and not viewer.allows("opportunities", "write")
    rep = Principal(org_id=org, role=Role.rep, user_id=uuid.uuid4())
    assert rep.allows("opportunities", "write")
    key = Principal(org_id=org, role=Role.admin, kind="api_key", scopes=frozenset({"leads:write", "*:read"}))
    assert key.allows("leads", "write") and key.allows("leads", "read") and key.allows("quotes", "read")
    assert not key.allows("quotes", "write")
