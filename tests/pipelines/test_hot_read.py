"""GET /v1/opportunities/{id} runs on asyncpg directly in a real deployment (core/hot_reads.py);
the rolled-back test app reads through SQLAlchemy. These tests use the committed app, so
they exercise the hot path: the same body as the ORM path, the same visibility, and a
lost connection answered with 503 before the pool heals."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.core.db import Database
from app.identity.models import Role
from app.main import create_app
from tests.support.factories import Tenant, create_tenant


async def _add_rep(tenant: Tenant, database: Database):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as s:
        tenant.session = s
        rep = await tenant.add_user(Role.rep)
        await s.commit()
    return rep


async def test_the_hot_read_returns_what_the_write_returned(committed_client, committed_tenant):
    admin = committed_tenant.admin
    r = await committed_client.post("/v1/opportunities", headers=admin.headers, json={
        "name": "热读 hot read", "amount": "1234.50", "currency": "CNY", "expected_close_date": "2027-03-31",
        "source": "referral", "tags": ["vip", "渠道"], "description": "compared field by field"})
    assert r.status_code == 201, r.text
    created = r.json()

    got = await committed_client.get(f"/v1/opportunities/{created['id']}", headers=admin.headers)

    assert got.status_code == 200
    assert got.json() == created  # every field, the stage's labels (jsonb) and the tags included
    assert got.headers["etag"] == r.headers["etag"] == '"1"'
    assert created["stage"]["labels"]  # the default pipeline names its stages in Chinese too


async def test_the_hot_read_keeps_tenants_and_owners_apart(committed_app, committed_client, committed_tenant, database):
    admin = committed_tenant.admin
    deal = (await committed_client.post("/v1/opportunities", json={"name": "not yours"}, headers=admin.headers)).json()
    async with database.sessionmaker() as s:
        other = await create_tenant(committed_app, s, "Other Co")
        await s.commit()
    rep = await _add_rep(committed_tenant, database)

    for stranger in (other.admin, rep):  # another organisation; a rep who does not own the deal
        r = await committed_client.get(f"/v1/opportunities/{deal['id']}", headers=stranger.headers)
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"
    mine = (await committed_client.post("/v1/opportunities", json={"name": "mine", "owner_id": str(rep.id)},
                                        headers=admin.headers)).json()
    assert (await committed_client.get(f"/v1/opportunities/{mine['id']}", headers=rep.headers)).status_code == 200


async def test_a_dropped_hot_read_connection_is_replaced_without_the_client_noticing(
        settings, committed_client, committed_tenant):
    admin = committed_tenant.admin
    deal = (await committed_client.post("/v1/opportunities", json={"name": "outage"}, headers=admin.headers)).json()
    one_connection = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0,
                                                      "db_hot_read_pool_size": 1})
    db = Database(settings.database_url or "", one_connection)
    app = create_app(one_connection, db=db)
    url = f"/v1/opportunities/{deal['id']}"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            for _ in range(3):  # drop the pool's only connection under each of several reads
                assert (await c.get(url, headers=admin.headers)).status_code == 200
                pid = await _hot_read_backend(db)
                async with db.engine.connect() as other:
                    await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

                again = await c.get(url, headers=admin.headers)

                assert again.status_code == 200, again.text
                assert again.json() == deal
                assert await _hot_read_backend(db) != pid
    finally:
        await db.dispose()


async def test_an_unreachable_database_answers_503_on_the_hot_read(settings, committed_client, committed_tenant):
    admin = committed_tenant.admin
    deal = (await committed_client.post("/v1/opportunities", json={"name": "no db"}, headers=admin.headers)).json()
    nowhere = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:9/nowhere"})
    db = Database(nowhere.database_url or "", nowhere)
    app = create_app(nowhere, db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get(f"/v1/opportunities/{deal['id']}", headers=admin.headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "database-unavailable"
        assert int(r.headers["retry-after"]) > 0
    finally:
        await db.dispose()


async def _hot_read_backend(db: Database) -> int:
    async with (await db.hot_reads.pool()).acquire() as conn:  # the pool's only connection
        assert await conn.fetchval("SELECT current_setting('application_name')") == "crm-pipeline-hot-reads"
        return await conn.fetchval("SELECT pg_backend_pid()")
