"""Another organisation's ids answer 404 exactly like missing ids, on every endpoint of
the pipelines domain that takes an id, and change nothing."""

from __future__ import annotations

import uuid

from tests.pipelines.helpers import default_pipeline, lost_reason, new_deal, stages
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404

SOME_STAGE = "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11"

OPPORTUNITY_ENDPOINTS = [
    IdEndpoint("GET", "/v1/opportunities/{id}"),
    IdEndpoint("PATCH", "/v1/opportunities/{id}", json={"name": "hijacked"}),
    IdEndpoint("DELETE", "/v1/opportunities/{id}"),
    IdEndpoint("POST", "/v1/opportunities/{id}/transitions", json={"to_stage_id": SOME_STAGE}),
    IdEndpoint("POST", "/v1/opportunities/{id}/reopen", json={"reason": "x"}),
    IdEndpoint("GET", "/v1/opportunities/{id}/transitions"),
]
PIPELINE_ENDPOINTS = [
    IdEndpoint("GET", "/v1/pipelines/{id}"),
    IdEndpoint("PATCH", "/v1/pipelines/{id}", json={"name": "hijacked"}),
    IdEndpoint("POST", "/v1/pipelines/{id}/stages", json={"name": "Evil", "probability": "0.5"}),
    IdEndpoint("PUT", "/v1/pipelines/{id}/stage-order", json={"stage_ids": [SOME_STAGE]}),
]
STAGE_ENDPOINTS = [IdEndpoint("PATCH", "/v1/stages/{id}", json={"name": "hijacked"})]
LOST_REASON_ENDPOINTS = [IdEndpoint("PATCH", "/v1/lost-reasons/{id}", json={"name": "hijacked"})]

ENDPOINTS: list[IdEndpoint] = OPPORTUNITY_ENDPOINTS + PIPELINE_ENDPOINTS + STAGE_ENDPOINTS + LOST_REASON_ENDPOINTS


async def test_every_endpoint_with_an_id_hides_other_organisations_records(client, tenant, other_tenant):
    owner = tenant.admin
    intruder = other_tenant.admin.headers
    deal = await new_deal(client, owner, amount="10")
    pipeline = await default_pipeline(client, owner)
    stage_id = (await stages(client, owner))["Needs analysis"]
    reason_id = await lost_reason(client, owner)

    async def snapshot():
        return [
            (await client.get(f"/v1/opportunities/{deal['id']}", headers=owner.headers)).json(),
            (await client.get(f"/v1/opportunities/{deal['id']}/transitions", headers=owner.headers)).json(),
            (await client.get(f"/v1/pipelines/{pipeline['id']}", headers=owner.headers)).json(),
            (await client.get("/v1/lost-reasons", headers=owner.headers)).json(),
        ]

    for record_id, endpoints in [
        (deal["id"], OPPORTUNITY_ENDPOINTS), (pipeline["id"], PIPELINE_ENDPOINTS),
        (stage_id, STAGE_ENDPOINTS), (reason_id, LOST_REASON_ENDPOINTS),
    ]:
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=intruder,
                                      endpoints=endpoints, snapshot=snapshot)
    assert {str(e) for e in ENDPOINTS} >= {str(e) for e in OPPORTUNITY_ENDPOINTS}


async def test_foreign_stage_and_lost_reason_ids_are_not_usable(client, tenant, other_tenant):
    deal = await new_deal(client, tenant.admin)
    foreign_stage = (await stages(client, other_tenant.admin))["First contact"]
    r = await client.post(f"/v1/opportunities/{deal['id']}/transitions", json={"to_stage_id": foreign_stage},
                          headers=tenant.admin.headers)
    assert r.status_code == 422
    r = await client.post("/v1/opportunities", json={"name": "x", "stage_id": foreign_stage}, headers=tenant.admin.headers)
    assert r.status_code == 404
    foreign_owner = other_tenant.admin.id
    r = await client.post("/v1/opportunities", json={"name": "x", "owner_id": str(foreign_owner)},
                          headers=tenant.admin.headers)
    assert r.status_code == 422
