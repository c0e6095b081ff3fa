"""The reusable cross-tenant check: every endpoint that takes an id, called by another
organisation with the id of a real record, must answer 404 exactly like a missing id and
change nothing. Each domain's tests list their endpoints and call `assert_cross_tenant_404`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class IdEndpoint:
    method: str
    path: str  # with "{id}" where the record id goes
    json: Any = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


async def assert_cross_tenant_404(
    client: httpx.AsyncClient,
    *,
    record_id: uuid.UUID,
    intruder_headers: dict[str, str],
    endpoints: Sequence[IdEndpoint],
    snapshot: Callable[[], Awaitable[Any]],
) -> None:
    """`snapshot()` returns the owner's view of everything the calls could change; it must
    be identical before and after the intruder's calls."""
    before = await snapshot()
    for endpoint in endpoints:
        headers = {**intruder_headers, **(endpoint.headers or {})}
        foreign = await client.request(
            endpoint.method, endpoint.path.format(id=record_id), json=endpoint.json, headers=headers
        )
        missing = await client.request(
            endpoint.method, endpoint.path.format(id=uuid.uuid4()), json=endpoint.json, headers=headers
        )
        assert foreign.status_code == 404, f"{endpoint}: {foreign.status_code} {foreign.text}"
        assert foreign.headers["content-type"].startswith("application/problem+json"), str(endpoint)
        assert missing.status_code == 404, f"{endpoint} (missing id): {missing.status_code} {missing.text}"
        # No existence leak: a foreign id reads exactly like an id that does not exist.
        assert foreign.json()["code"] == missing.json()["code"], str(endpoint)
        assert foreign.json().get("detail") == missing.json().get("detail"), str(endpoint)
    assert await snapshot() == before, "a cross-tenant call changed the record"
