"""Another organisation's alert rules answer 404 exactly like missing ids and change
nothing. (Figures taking a pipeline id are checked in test_stage_conversion.py.) Figures
without ids count only the caller's organisation: lead conversion below."""

from __future__ import annotations

import datetime as dt

import httpx

from app.leads.models import Lead, LeadStatus
from app.pipelines.models import Opportunity
from tests.analytics.conftest import JANUARY, January
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


async def test_lead_conversion_counts_only_the_callers_organisation(client: httpx.AsyncClient, january: January,
                                                                    other_tenant: Tenant) -> None:
    tenant = january.history.tenant
    other_deal = (await other_tenant.session.execute(
        Opportunity.__table__.select().where(Opportunity.org_id == other_tenant.id))).first()
    for org, owner, hours, opp in ((tenant, january.rep_a.id, 10, january.deals["D1"].id),
                                   (other_tenant, other_tenant.admin.id, 50, other_deal.id)):
        lead = Lead(org_id=org.id, owner_id=owner, source="web_form", last_name="x", status=LeadStatus.converted,
                    created_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), converted_at=dt.datetime(
                        2026, 1, 5, 9, tzinfo=dt.UTC) + dt.timedelta(hours=hours), version=1)
        org.session.add(lead)
        await org.session.flush()
        await org.session.execute(Opportunity.__table__.update().where(Opportunity.id == opp).values(lead_id=lead.id))
    ours = (await client.get("/v1/analytics/lead-conversion", params={**JANUARY, "group_by": "owner"},
                             headers=tenant.admin.headers)).json()["rows"]
    assert [(r["group"], r["leads"], r["median_hours_to_convert"], r["won_amount"]) for r in ours] == [
        (str(january.rep_a.id), 1, 10.0, "1000.00")]
    theirs = (await client.get("/v1/analytics/lead-conversion", params=JANUARY,
                               headers=other_tenant.admin.headers)).json()["rows"]
    assert [(r["leads"], r["median_hours_to_convert"]) for r in theirs] == [(1, 50.0)]
