"""A user's sign-ins (devices): listed, signed out one by one or everywhere."""

from __future__ import annotations

import httpx

from app.identity.models import Role
from tests.identity.helpers import bearer, tokens_for
from tests.support.factories import TEST_PASSWORD, Tenant, known_password_hash


async def test_list_and_sign_out_one_device_then_everywhere(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    async def sign_in_from(device: str) -> dict:
        response = await client.post("/v1/auth/token", headers={"User-Agent": device},
                                     data={"username": rep.user.email, "password": TEST_PASSWORD})
        assert response.status_code == 200
        return response.json()

    phone = await sign_in_from("Phone/1.0")
    laptop = await sign_in_from("Laptop/2.0")
    refreshed = (await client.post("/v1/auth/refresh", headers={"User-Agent": "Phone/1.1"},
                                   json={"refresh_token": phone["refresh_token"]})).json()

    sessions = (await client.get("/v1/me/sessions", headers=rep.headers)).json()
    assert sorted(s["user_agent"] for s in sessions) == ["Laptop/2.0", "Phone/1.1"]  # a refresh keeps the session
    phone_id = next(s["id"] for s in sessions if s["user_agent"] == "Phone/1.1")
    assert all(s["address"] == "127.0.0.1" for s in sessions)

    assert (await client.delete(f"/v1/me/sessions/{phone_id}", headers=rep.headers)).status_code == 204
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})).status_code == 401
    remaining = (await client.get("/v1/me/sessions", headers=rep.headers)).json()
    assert [s["user_agent"] for s in remaining] == ["Laptop/2.0"]
    # Gone already: 404, like any id that is not a live session of yours.
    assert (await client.delete(f"/v1/me/sessions/{phone_id}", headers=rep.headers)).status_code == 404

    assert (await client.delete("/v1/me/sessions", headers=rep.headers)).status_code == 204
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})).status_code == 401
    assert (await client.get("/v1/me/sessions", headers=rep.headers)).json() == []


async def test_a_colleagues_session_is_not_yours(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    pair = await tokens_for(client, rep.user.email)
    session_id = (await client.get("/v1/me/sessions", headers=rep.headers)).json()[0]["id"]
    # Not even the admin of the same organisation signs the rep out through /me.
    assert (await client.delete(f"/v1/me/sessions/{session_id}", headers=tenant.admin.headers)).status_code == 404
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200


async def test_api_keys_have_no_sessions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    key = (await client.post("/v1/api-keys", headers=tenant.admin.headers,
                             json={"name": "k", "scopes": ["users:read"]})).json()["key"]
    assert (await client.get("/v1/me/sessions", headers=bearer(key))).status_code == 403
    assert (await client.delete("/v1/me/sessions", headers=bearer(key))).status_code == 403
