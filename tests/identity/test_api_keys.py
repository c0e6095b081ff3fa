"""API keys: shown once, stored as a hash, scoped, revocable, and who may manage them."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import ApiKey, Role
from tests.identity.helpers import bearer
from tests.support.factories import Tenant, unique_email


async def make_key(client: httpx.AsyncClient, tenant: Tenant, *scopes: str, **extra: object) -> dict:
    response = await client.post("/v1/api-keys", headers=tenant.admin.headers,
                                 json={"name": "ERP sync", "scopes": list(scopes), **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def test_key_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    created = await make_key(client, tenant, "users:read")
    key = created["key"]
    assert key.startswith("crm_") and len(key) >= 4 + 22  # >= 128 bits of url-safe base64
    assert created["prefix"] == key[:12]

    row = await session.get(ApiKey, uuid.UUID(created["id"]))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    dump = (await session.execute(text("SELECT row_to_json(k)::text FROM api_key k WHERE id = :id"),
                                  {"id": row.id})).scalar_one()
    assert key not in dump and key[12:] not in dump

    listed = await client.get("/v1/api-keys", headers=tenant.admin.headers)
    read = await client.get(f"/v1/api-keys/{created['id']}", headers=tenant.admin.headers)
    assert "key" not in read.json() and key not in listed.text and key not in read.text
    assert [k["id"] for k in listed.json()["items"]] == [created["id"]]
    # The audit trail and the events never see the key either.
    assert key not in (await client.get("/v1/audit-log", headers=tenant.admin.headers)).text
    assert key not in (await client.get("/v1/events", headers=tenant.admin.headers)).text


async def test_key_authenticates_as_its_organisation_with_its_scopes(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    created = await make_key(client, tenant, "users:read")
    me = await client.get("/v1/me", headers=bearer(created["key"]))
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "api_key" and me.json()["org"]["id"] == str(tenant.id)
    assert me.json()["scopes"] == ["users:read"] and me.json()["user"] is None

    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 200
    write = await client.post("/v1/users", headers=bearer(created["key"]),
                              json={"email": unique_email(), "full_name": "X", "role": "rep"})
    assert write.status_code == 403 and write.json()["code"] == "forbidden"
    assert (await client.get("/v1/teams", headers=bearer(created["key"]))).status_code == 403
    assert (await client.get("/v1/events", headers=bearer(created["key"]))).status_code == 403

    row = await session.get(ApiKey, uuid.UUID(created["id"]))
    await session.refresh(row)
    assert row.last_used_at is not None


async def test_write_scope_implies_read_and_wildcards_work(client: httpx.AsyncClient, tenant: Tenant) -> None:
    writer = await make_key(client, tenant, "teams:write")
    assert (await client.get("/v1/teams", headers=bearer(writer["key"]))).status_code == 200
    created = await client.post("/v1/teams", headers=bearer(writer["key"]), json={"name": "Integration team"})
    assert created.status_code == 201
    reader = await make_key(client, tenant, "*:read")
    assert (await client.get("/v1/events", headers=bearer(reader["key"]))).status_code == 200
    assert (await client.post("/v1/teams", headers=bearer(reader["key"]), json={"name": "x"})).status_code == 403


async def test_revoked_key_is_refused_at_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await make_key(client, tenant, "users:read")
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 200  # now cached
    revoked = await client.delete(f"/v1/api-keys/{created['id']}", headers=tenant.admin.headers)
    assert revoked.status_code == 204
    refused = await client.get("/v1/users", headers=bearer(created["key"]))
    assert refused.status_code == 401 and refused.json()["code"] == "invalid-api-key"
    listed = await client.get("/v1/api-keys", params={"include_revoked": True}, headers=tenant.admin.headers)
    assert listed.json()["items"][0]["revoked_at"] is not None
    assert (await client.get("/v1/api-keys", headers=tenant.admin.headers)).json()["items"] == []


async def test_expired_and_unknown_keys_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    created = await make_key(client, tenant, "users:read")
    await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(created["id"]))
                          .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 401
    forged = created["key"][:12] + "A" * (len(created["key"]) - 12)
    assert (await client.get("/v1/users", headers=bearer(forged))).status_code == 401
    assert (await client.get("/v1/users", headers=bearer("crm_" + "x" * 500))).status_code == 401


async def test_key_with_future_expiry_works_and_past_expiry_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    created = await make_key(client, tenant, "users:read", expires_at=soon)
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 200
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    refused = await client.post("/v1/api-keys", headers=tenant.admin.headers,
                                json={"name": "x", "scopes": ["users:read"], "expires_at": past})
    assert refused.status_code == 422


async def test_only_admin_users_manage_keys(client: httpx.AsyncClient, tenant: Tenant) -> None:
    manager = await tenant.add_user(Role.manager)
    body = {"name": "mine", "scopes": ["users:read"]}
    assert (await client.post("/v1/api-keys", headers=manager.headers, json=body)).status_code == 403
    assert (await client.get("/v1/api-keys", headers=manager.headers)).status_code == 403
    # A key never mints keys, whatever its scopes.
    mighty = await make_key(client, tenant, "*:write")
    assert (await client.post("/v1/api-keys", headers=bearer(mighty["key"]), json=body)).status_code == 403


async def test_unknown_scopes_are_refused(client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession) -> None:
    for scopes in (["users:admin"], ["nonsense:read"], ["*"], []):
        response = await client.post("/v1/api-keys", headers=tenant.admin.headers,
                                     json={"name": "bad", "scopes": scopes})
        assert response.status_code == 422, scopes
    assert (await session.scalars(select(ApiKey).where(ApiKey.org_id == tenant.id))).all() == []


async def test_key_creation_ignores_idempotency_keys(client: httpx.AsyncClient, tenant: Tenant,
                                                     session: AsyncSession) -> None:
    # Replaying the response would mean storing the secret; each call makes a new key.
    headers = {**tenant.admin.headers, "Idempotency-Key": "same"}
    body = {"name": "k", "scopes": ["users:read"]}
    first = await client.post("/v1/api-keys", headers=headers, json=body)
    second = await client.post("/v1/api-keys", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["key"] != second.json()["key"]
    stored = (await session.execute(text("SELECT count(*) FROM idempotency_record WHERE org_id = :o"),
                                    {"o": tenant.id})).scalar_one()
    assert stored == 0


async def test_revocation_elsewhere_applies_once_the_cache_entry_expires(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession, monkeypatch
) -> None:
    """Another process revoking the key (simulated by writing the row) takes effect in
    this one within api_key_cache_ttl_s: the documented revocation delay."""
    import time

    created = await make_key(client, tenant, "users:read")
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 200
    await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(created["id"]))
                          .values(revoked_at=dt.datetime.now(dt.UTC)))
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 200  # cached
    later = time.monotonic() + 31
    monkeypatch.setattr(app.state.api_key_authenticator, "clock", lambda: later)
    assert (await client.get("/v1/users", headers=bearer(created["key"]))).status_code == 401


async def test_key_expiry_out_of_range_is_a_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for when in ("9999-12-31T23:59:59-12:00", "2201-01-01T00:00:00Z"):
        r = await client.post("/v1/api-keys", headers=tenant.admin.headers,
                              json={"name": "x", "scopes": ["users:read"], "expires_at": when})
        assert r.status_code == 422 and "between 1900-01-01 and 2200-12-31" in r.text, r.text
    assert (await client.get("/v1/api-keys", headers=tenant.admin.headers)).json()["items"] == []
