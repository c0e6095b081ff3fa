"""Every activities/tasks endpoint that takes an id answers another organisation 404."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from tests.support.crm_data import lead_body
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

ENDPOINTS: list[IdEndpoint] = [
    IdEndpoint("GET", "/v1/activities/{id}"),
    IdEndpoint("PATCH", "/v1/activities/{id}", json={"subject": "hijacked"}),
    IdEndpoint("DELETE", "/v1/activities/{id}"),
    IdEndpoint("GET", "/v1/tasks/{id}"),
    IdEndpoint("PATCH", "/v1/tasks/{id}", json={"status": "done"}),
    IdEndpoint("DELETE", "/v1/tasks/{id}"),
]


async def test_activity_endpoints_hide_other_organisations(client: httpx.AsyncClient, tenant: Tenant,
                                                           other_tenant: Tenant) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    activity = (await client.post("/v1/activities", json={"kind": "note", "subject": "n", "lead_id": lead["id"]}, headers=h)).json()
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    task = (await client.post("/v1/tasks", json={"title": "t", "due_at": due, "lead_id": lead["id"]}, headers=h)).json()

    async def snapshot() -> list:
        return [(await client.get(f"/v1/activities/{activity['id']}", headers=h)).json(),
                (await client.get(f"/v1/tasks/{task['id']}", headers=h)).json()]

    for record_id, prefix in ((activity["id"], "/v1/activities/"), (task["id"], "/v1/tasks/")):
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=other_tenant.admin.headers,
                                      endpoints=[e for e in ENDPOINTS if e.path.startswith(prefix)], snapshot=snapshot)
    # Referencing another organisation's lead in a body is refused, not linked.
    r = await client.post("/v1/activities", json={"kind": "call", "subject": "x", "lead_id": lead["id"]},
                          headers=other_tenant.admin.headers)
    assert r.status_code == 422
