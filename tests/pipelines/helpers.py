"""Shortcuts for the pipelines tests: the default pipeline's stages by name, deals."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.factories import Actor


async def default_pipeline(client: httpx.AsyncClient, actor: Actor) -> dict[str, Any]:
    r = await client.get("/v1/pipelines", headers=actor.headers)
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["items"] if p["is_default"])


async def stages(client: httpx.AsyncClient, actor: Actor) -> dict[str, str]:
    """English stage name -> id of the default pipeline."""
    return {s["name"]: s["id"] for s in (await default_pipeline(client, actor))["stages"]}


async def lost_reason(client: httpx.AsyncClient, actor: Actor, name: str = "Price too high") -> str:
    r = await client.get("/v1/lost-reasons", headers=actor.headers)
    return next(x["id"] for x in r.json()["items"] if x["name"] == name)


async def new_deal(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    body = {"name": "Deal 订单", **fields}
    r = await client.post("/v1/opportunities", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def move(client: httpx.AsyncClient, actor: Actor, deal_id: str, to_stage_id: str,
               expect: int = 201, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    r = await client.post(f"/v1/opportunities/{deal_id}/transitions", json={"to_stage_id": to_stage_id, **body},
                          headers={**actor.headers, **(headers or {})})
    assert r.status_code == expect, r.text
    return r.json()
