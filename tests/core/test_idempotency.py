"""Idempotency-Key on POST: retries replay the first response and never act twice."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import Database, SessionDep
from app.core.idempotency import IdempotencyGuard
from app.identity.auth import CurrentPrincipal
from app.identity.models import Team
from app.main import create_app
from tests.conftest import RollbackDatabase
from tests.support.factories import Tenant, create_tenant


class TeamIn(BaseModel):
    name: str


def _probe_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    router = APIRouter(dependencies=[IdempotencyGuard])

    @router.post("/probe/teams", status_code=201)
    async def create_team(body: TeamIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, str]:
        team = Team(org_id=principal.org_id, name=body.name)
        session.add(team)
        await session.flush()
        return {"id": str(team.id), "name": team.name}

    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def probe_app(settings: Settings) -> FastAPI:
    return _probe_app(settings)


@pytest.fixture
async def probe(probe_app: FastAPI, database: Database, connection) -> httpx.AsyncClient:
    probe_app.state.db = RollbackDatabase(database, connection)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_app), base_url="http://t") as c:
        yield c


async def _teams(session, org_id) -> int:
    return await session.scalar(select(func.count()).select_from(Team).where(Team.org_id == org_id))


async def test_retry_with_same_key_replays_without_acting_twice(probe, session, probe_app, tenant: Tenant) -> None:
    headers = {**tenant.admin.headers, "Idempotency-Key": "k-1"}
    first = await probe.post("/probe/teams", json={"name": "华东"}, headers=headers)
    again = await probe.post("/probe/teams", json={"name": "华东"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _teams(session, tenant.id) == 1


async def test_same_key_with_other_body_is_refused(probe, session, tenant: Tenant) -> None:
    headers = {**tenant.admin.headers, "Idempotency-Key": "k-2"}
    assert (await probe.post("/probe/teams", json={"name": "A"}, headers=headers)).status_code == 201
    r = await probe.post("/probe/teams", json={"name": "B"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency-key-reused"
    assert await _teams(session, tenant.id) == 1


async def test_keys_are_scoped_to_the_caller(probe, session, tenant: Tenant, other_tenant: Tenant) -> None:
    a = await probe.post("/probe/teams", json={"name": "A"}, headers={**tenant.admin.headers, "Idempotency-Key": "same"})
    b = await probe.post("/probe/teams", json={"name": "A"}, headers={**other_tenant.admin.headers, "Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_without_key_each_post_acts(probe, session, tenant: Tenant) -> None:
    for _ in range(2):
        assert (await probe.post("/probe/teams", json={"name": "A"}, headers=tenant.admin.headers)).status_code == 201
    assert await _teams(session, tenant.id) == 2


async def test_failed_request_can_be_retried_with_same_key(probe, session, tenant: Tenant) -> None:
    headers = {**tenant.admin.headers, "Idempotency-Key": "k-3"}
    bad = await probe.post("/probe/teams", json={"nope": 1}, headers=headers)
    assert bad.status_code == 422
    good = await probe.post("/probe/teams", json={"name": "ok"}, headers=headers)
    assert good.status_code == 201


async def test_concurrent_duplicates_act_once(settings: Settings, database: Database) -> None:
    app = _probe_app(settings)
    app.state.db = database
    async with database.sessionmaker() as s:
        tenant = await create_tenant(app, s, "Idem race")
        await s.commit()
    headers = {**tenant.admin.headers, "Idempotency-Key": "race-1"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        responses = await asyncio.gather(*(c.post("/probe/teams", json={"name": "R"}, headers=headers) for _ in range(8)))
    created = [r for r in responses if r.status_code == 201]
    assert {r.json()["id"] for r in created} and len({r.json()["id"] for r in created}) == 1
    # Latecomers either replay the stored response or learn it is not stored yet; none acts.
    assert all(r.status_code in (201, 409) for r in responses)
    async with database.sessionmaker() as s:
        assert await _teams(s, tenant.id) == 1
