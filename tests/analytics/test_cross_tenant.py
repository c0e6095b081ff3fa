"""Another organisation's alert rules answer 404 exactly like missing ids and change
nothing. (Figures taking a pipeline id are checked in test_stage_conversion.py.)"""

from __future__ import annotations

import httpx

from tests.analytics.conftest import January
from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

ENDPOINTS: list[IdEndpoint] = [
    IdEndpoint("GET", "/v1/alert-rules/{id}"),
    IdEndpoint("PATCH", "/v1/alert-rules/{id}", json={"name": "stolen"}),
    IdEndpoint("DELETE", "/v1/alert-rules/{id}"),
]


async def test_rules_of_another_organisation_read_as_missing(client: httpx.AsyncClient, january: January,
                                                             other_tenant: Tenant) -> None:
    tenant = january.history.tenant
    res = await client.post("/v1/alert-rules", headers=tenant.admin.headers, json={
        "name": "stalled", "kind": "stalled_deals_above", "threshold": "1", "stalled_after_days": 5})
    rule_id = res.json()["id"]

    async def snapshot() -> dict:
        return (await client.get(f"/v1/alert-rules/{rule_id}", headers=tenant.admin.headers)).json()

    await assert_cross_tenant_404(
        client, record_id=rule_id, intruder_headers=other_tenant.admin.headers, snapshot=snapshot,
        endpoints=ENDPOINTS,
    )
    assert (await client.get("/v1/alerts", params={"rule_id": rule_id}, headers=other_tenant.admin.headers)).json()["items"] == []
