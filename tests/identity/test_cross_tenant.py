"""Another organisation's users, teams and API keys answer 404 like missing ids, for
every read, update, state change and delete, and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import ApiKey, Role, Team, User
from tests.identity.helpers import bearer
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

USER_ENDPOINTS = [
    IdEndpoint("GET", "/v1/users/{id}"),
    IdEndpoint("PATCH", "/v1/users/{id}", json={"full_name": "Hijacked", "role": "admin"}),
    IdEndpoint("DELETE", "/v1/users/{id}"),
    IdEndpoint("POST", "/v1/users/{id}/password", json={"password": "hijacked password"}),
]
TEAM_ENDPOINTS = [
    IdEndpoint("GET", "/v1/teams/{id}"),
    IdEndpoint("PATCH", "/v1/teams/{id}", json={"name": "Hijacked"}),
    IdEndpoint("DELETE", "/v1/teams/{id}"),
]
API_KEY_ENDPOINTS = [
    IdEndpoint("GET", "/v1/api-keys/{id}"),
    IdEndpoint("DELETE", "/v1/api-keys/{id}"),
]
SESSION_ENDPOINTS = [IdEndpoint("DELETE", "/v1/me/sessions/{id}")]
ENDPOINTS = USER_ENDPOINTS + TEAM_ENDPOINTS + API_KEY_ENDPOINTS + SESSION_ENDPOINTS


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


async def _snapshot(session: AsyncSession, model: Any, record_id: uuid.UUID) -> Any:
    obj = await session.scalar(
        select(model).where(model.id == record_id).execution_options(populate_existing=True)
    )
    return _row(obj) if obj is not None else None


async def test_users_of_another_org_are_invisible(client: httpx.AsyncClient, tenant: Tenant,
                                                  other_tenant: Tenant, session: AsyncSession) -> None:
    victim = await tenant.add_user(Role.rep)
    await assert_cross_tenant_404(
        client, record_id=victim.id, intruder_headers=other_tenant.admin.headers, endpoints=USER_ENDPOINTS,
        snapshot=lambda: _snapshot(session, User, victim.id),
    )


async def test_even_the_admin_of_another_org_cannot_touch_its_admin(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    await assert_cross_tenant_404(
        client, record_id=tenant.admin.id, intruder_headers=other_tenant.admin.headers, endpoints=USER_ENDPOINTS,
        snapshot=lambda: _snapshot(session, User, tenant.admin.id),
    )


async def test_teams_of_another_org_are_invisible(client: httpx.AsyncClient, tenant: Tenant,
                                                  other_tenant: Tenant, session: AsyncSession) -> None:
    team = await tenant.add_team("Ours")
    await assert_cross_tenant_404(
        client, record_id=team.id, intruder_headers=other_tenant.admin.headers, endpoints=TEAM_ENDPOINTS,
        snapshot=lambda: _snapshot(session, Team, team.id),
    )


async def test_api_keys_of_another_org_are_invisible(client: httpx.AsyncClient, tenant: Tenant,
                                                     other_tenant: Tenant, session: AsyncSession) -> None:
    created = (await client.post("/v1/api-keys", headers=tenant.admin.headers,
                                 json={"name": "ours", "scopes": ["users:read"]})).json()
    key_id = uuid.UUID(created["id"])
    await assert_cross_tenant_404(
        client, record_id=key_id, intruder_headers=other_tenant.admin.headers, endpoints=API_KEY_ENDPOINTS,
        snapshot=lambda: _snapshot(session, ApiKey, key_id),
    )
    assert (await client.get("/v1/me", headers=bearer(created["key"]))).status_code == 200


async def test_another_orgs_api_key_cannot_reach_our_records(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    key = (await client.post("/v1/api-keys", headers=other_tenant.admin.headers,
                             json={"name": "theirs", "scopes": ["*:write"]})).json()["key"]
    victim = await tenant.add_user(Role.rep)
    team = await tenant.add_team("Ours")
    await assert_cross_tenant_404(
        client, record_id=victim.id, intruder_headers=bearer(key), endpoints=USER_ENDPOINTS,
        snapshot=lambda: _snapshot(session, User, victim.id),
    )
    await assert_cross_tenant_404(
        client, record_id=team.id, intruder_headers=bearer(key), endpoints=TEAM_ENDPOINTS,
        snapshot=lambda: _snapshot(session, Team, team.id),
    )


async def test_references_to_another_org_in_bodies_read_as_unknown(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Ids in bodies too: another org's team or manager is 'unknown', like a random id."""
    their_team = await other_tenant.add_team("Theirs")
    their_manager = await other_tenant.add_user(Role.manager)
    for body, field in (({"name": "x", "parent_id": str(their_team.id)}, "parent_id"),
                        ({"name": "x", "manager_id": str(their_manager.id)}, "manager_id")):
        foreign = await client.post("/v1/teams", headers=tenant.admin.headers, json=body)
        missing = await client.post("/v1/teams", headers=tenant.admin.headers, json={**body, field: str(uuid.uuid4())})
        assert foreign.status_code == missing.status_code == 422
        assert foreign.json()["detail"] == missing.json()["detail"]


async def test_sessions_of_another_org_are_invisible(client: httpx.AsyncClient, tenant: Tenant,
                                                     other_tenant: Tenant, session: AsyncSession) -> None:
    from app.identity.models import RefreshToken
    from tests.identity.helpers import tokens_for

    pair = await tokens_for(client, tenant.admin.user.email)
    family_id = (await client.get("/v1/me/sessions", headers=tenant.admin.headers)).json()[0]["id"]

    async def snapshot() -> Any:
        rows = await session.scalars(select(RefreshToken).where(RefreshToken.family_id == uuid.UUID(family_id))
                                     .execution_options(populate_existing=True))
        return [_row(r) for r in rows]

    await assert_cross_tenant_404(
        client, record_id=uuid.UUID(family_id), intruder_headers=other_tenant.admin.headers,
        endpoints=SESSION_ENDPOINTS, snapshot=snapshot,
    )
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200
