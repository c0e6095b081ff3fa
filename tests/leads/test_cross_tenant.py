"""Every leads endpoint that takes an id answers another organisation 404, like a missing id."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from app.leads import importer
from tests.support.crm_data import lead_body
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

ENDPOINTS: list[IdEndpoint] = [
    IdEndpoint("GET", "/v1/leads/{id}"),
    IdEndpoint("PATCH", "/v1/leads/{id}", json={"title": "hijacked"}),
    IdEndpoint("DELETE", "/v1/leads/{id}"),
    IdEndpoint("POST", "/v1/leads/{id}/disqualify", json={"reason": "hijacked"}),
    IdEndpoint("POST", "/v1/leads/{id}/assign", json={}),
    IdEndpoint("POST", "/v1/leads/{id}/convert", json={}),
    IdEndpoint("GET", "/v1/leads/{id}/duplicates"),
    IdEndpoint("POST", "/v1/leads/{id}/merge", json={"duplicate_id": str(uuid.uuid4())}),
    IdEndpoint("GET", "/v1/leads/{id}/personal-data"),
    IdEndpoint("POST", "/v1/leads/{id}/erase"),
    IdEndpoint("PATCH", "/v1/lead-scoring-rules/{id}", json={"points": 1}),
    IdEndpoint("DELETE", "/v1/lead-scoring-rules/{id}"),
    IdEndpoint("PUT", "/v1/lead-assignment-rules/{id}", json={"name": "x", "target_user_id": str(uuid.uuid4())}),
    IdEndpoint("DELETE", "/v1/lead-assignment-rules/{id}"),
    IdEndpoint("GET", "/v1/lead-imports/{id}"),
    IdEndpoint("GET", "/v1/lead-imports/{id}/errors"),
]


def _for(prefix: str) -> list[IdEndpoint]:
    return [e for e in ENDPOINTS if e.path.startswith(prefix + "/{id}")]


async def test_leads_endpoints_hide_other_organisations(client: httpx.AsyncClient, tenant: Tenant,
                                                        other_tenant: Tenant, app: FastAPI) -> None:
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(), headers=h)).json()
    # A record of the intruder's own with the same email must not change the picture.
    await client.post("/v1/leads", json=lead_body(), headers=other_tenant.admin.headers)
    scoring_rule = (await client.post("/v1/lead-scoring-rules", json={"name": "r", "field": "source", "operator": "eq",
                                                                       "value": "event", "points": 5}, headers=h)).json()
    assignment_rule = (await client.post("/v1/lead-assignment-rules", json={"name": "r", "target_user_id": str(tenant.admin.id)},
                                         headers=h)).json()
    job = (await client.post("/v1/lead-imports", content=b"last_name,email\nA,bad\n",
                             headers={**h, "Content-Type": "text/csv"})).json()
    claimed = await importer.claim_next(app.state.db.sessionmaker, import_id=uuid.UUID(job["id"]))
    assert claimed is not None
    await importer.process(app.state.db.sessionmaker, *claimed)

    async def snapshot() -> list:
        return [
            (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json(),
            (await client.get("/v1/lead-scoring-rules", headers=h)).json(),
            (await client.get("/v1/lead-assignment-rules", headers=h)).json(),
            (await client.get(f"/v1/lead-imports/{job['id']}/errors", headers=h)).json(),
        ]

    intruder = other_tenant.admin.headers
    for record_id, prefix in ((lead["id"], "/v1/leads"), (scoring_rule["id"], "/v1/lead-scoring-rules"),
                              (assignment_rule["id"], "/v1/lead-assignment-rules"), (job["id"], "/v1/lead-imports")):
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=intruder,
                                      endpoints=_for(prefix), snapshot=snapshot)
    assert sum(len(_for(p)) for p in ("/v1/leads", "/v1/lead-scoring-rules", "/v1/lead-assignment-rules",
                                      "/v1/lead-imports")) == len(ENDPOINTS)
