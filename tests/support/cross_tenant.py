"""The reusable cross-tenant check: every endpoint that takes an id, called by another
organisation with the id of a real record, must answer 404 exactly like a missing id and
change nothing.

The convention every domain follows
-----------------------------------
1. Each domain has `tests/<domain>/test_cross_tenant.py` defining a module-level
   `ENDPOINTS: list[IdEndpoint]`: one entry per (method, route) of the domain that takes
   a path parameter, with the path written as the route template and the record id as
   `{id}`, e.g. `IdEndpoint("PATCH", "/v1/opportunities/{id}", json={"name": "x"})`.
   Other path parameters keep a name of their own (`/v1/pipelines/{id}/stages/{stage_id}`)
   and get their value from `params=` when the check runs.
2. A test in that module creates a record in one organisation and calls
   `assert_cross_tenant_404(client, record_id=..., intruder_headers=<another org's admin>,
   endpoints=[...], snapshot=...)` for the entries about that record (several records,
   several calls), where `snapshot()` returns the owner's view of everything the calls
   could change.
3. Optionally `EXEMPT: dict[str, str]` maps "METHOD /v1/template" to the reason a route
   with a path parameter is not a record lookup (rare; it is reviewed like code).

`tests/core/test_cross_tenant_coverage.py` imports every such module and fails, naming
method and template, for any /v1 route with a path parameter that no ENDPOINTS list
covers (parameter names do not matter: `{user_id}` in the route matches `{id}` here),
and for ENDPOINTS entries that match no route (typos would otherwise cover nothing).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

_PARAM = re.compile(r"\{[^}]*\}")


def route_key(method: str, path: str) -> tuple[str, str]:
    """(METHOD, template with every path parameter written `{}`), to compare templates
    whatever their parameters are called."""
    return method.upper(), _PARAM.sub("{}", path.split("?", 1)[0].rstrip("/") or "/")


@dataclass(frozen=True)
class IdEndpoint:
    method: str
    path: str  # the route template, with "{id}" where the record id goes
    json: Any = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, record_id: uuid.UUID, params: Mapping[str, Any] | None = None) -> str:
        return self.path.format_map({**(params or {}), "id": record_id})

    @property
    def key(self) -> tuple[str, str]:
        return route_key(self.method, self.path)


async def assert_cross_tenant_404(
    client: httpx.AsyncClient,
    *,
    record_id: uuid.UUID,
    intruder_headers: dict[str, str],
    endpoints: Sequence[IdEndpoint],
    snapshot: Callable[[], Awaitable[Any]],
    params: Mapping[str, Any] | None = None,
) -> None:
    """`snapshot()` returns the owner's view of everything the calls could change; it must
    be identical before and after the intruder's calls. `params` fills path parameters
    other than `{id}`."""
    before = await snapshot()
    for endpoint in endpoints:
        headers = {**intruder_headers, **(endpoint.headers or {})}
        foreign = await client.request(
            endpoint.method, endpoint.url(record_id, params), json=endpoint.json, headers=headers
        )
        missing = await client.request(
            endpoint.method, endpoint.url(uuid.uuid4(), params), json=endpoint.json, headers=headers
        )
        assert foreign.status_code == 404, f"{endpoint}: {foreign.status_code} {foreign.text}"
        assert foreign.headers["content-type"].startswith("application/problem+json"), str(endpoint)
        assert missing.status_code == 404, f"{endpoint} (missing id): {missing.status_code} {missing.text}"
        # No existence leak: a foreign id reads exactly like an id that does not exist.
        assert foreign.json()["code"] == missing.json()["code"], str(endpoint)
        assert foreign.json().get("detail") == missing.json().get("detail"), str(endpoint)
    assert await snapshot() == before, "a cross-tenant call changed the record"
