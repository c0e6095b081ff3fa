"""Shared steps of the identity tests: signing in over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.factories import TEST_PASSWORD


async def sign_in(client: httpx.AsyncClient, email: str, password: str = TEST_PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def tokens_for(client: httpx.AsyncClient, email: str, password: str = TEST_PASSWORD) -> dict[str, Any]:
    response = await sign_in(client, email, password)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
