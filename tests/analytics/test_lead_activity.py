"""Figures over leads and activities: lead creation -> first contact (in stage-duration)
and activities logged per rep (in the scorecard), worked out by hand."""

from __future__ import annotations

import uuid

import httpx

from app.activities.models import Activity, ActivityKind
from app.leads.models import Lead
from tests.analytics.conftest import January
from tests.support.factories import Tenant
from tests.support.stage_history import at


async def _lead(tenant: Tenant, owner_id: uuid.UUID, created: float, contacted_after_h: float | None) -> Lead:
    lead = Lead(org_id=tenant.id, owner_id=owner_id, source="website", last_name="测试", created_at=at(created),
                first_response_at=at(created, hours=contacted_after_h) if contacted_after_h is not None else None)
    tenant.session.add(lead)
    await tenant.session.flush()
    return lead


async def _activities(tenant: Tenant, owner_id: uuid.UUID, lead: Lead, *days: float) -> None:
    tenant.session.add_all([
        Activity(org_id=tenant.id, owner_id=owner_id, kind=ActivityKind.call, subject="call", occurred_at=at(d),
                 lead_id=lead.id) for d in days
    ])
    await tenant.session.flush()


async def test_lead_first_contact_over_contacted_leads_of_the_period(
    client: httpx.AsyncClient, january: January, other_tenant: Tenant
) -> None:
    tenant = january.history.tenant
    await _lead(tenant, january.rep_a.id, 0, 1)      # 1 h
    await _lead(tenant, january.rep_a.id, 2, 3)      # 3 h
    await _lead(tenant, january.rep_a.id, 3, None)   # never contacted: not in the figures
    await _lead(tenant, january.rep_a.id, 40, 1)     # created in February: outside the period
    await _lead(tenant, january.rep_b.id, 1, 2)      # 2 h
    await _lead(other_tenant, other_tenant.admin.id, 0, 100)  # another organisation: never counts

    body = (await client.get("/v1/analytics/stage-duration", params=january.params(),
                             headers=tenant.admin.headers)).json()
    # 1 h, 2 h, 3 h: mean 2 h; p75 = 2 h + 0.5 x 1 h; p90 = 2 h + 0.8 x 1 h (linear interpolation).
    assert body["lead_first_contact"] == {"count": 3, "mean_seconds": 7200.0, "p50_seconds": 7200.0,
                                          "p75_seconds": 9000.0, "p90_seconds": 10080.0}
    mine = (await client.get("/v1/analytics/stage-duration", params=january.params(),
                             headers=january.rep_b.headers)).json()
    assert mine["lead_first_contact"]["count"] == 1 and mine["lead_first_contact"]["mean_seconds"] == 7200.0


async def test_scorecard_counts_activities_each_rep_logged_in_the_period(
    client: httpx.AsyncClient, january: January
) -> None:
    tenant = january.history.tenant
    lead = await _lead(tenant, january.rep_a.id, 0, 1)
    await _activities(tenant, january.rep_a.id, lead, 0, 5, 20, 45)  # T0 is 5 January: day 45 is in February
    await _activities(tenant, january.rep_b.id, lead, 2, 3)
    rows = {r["owner_id"]: r for r in (await client.get(
        "/v1/analytics/scorecard", params=january.params(), headers=tenant.admin.headers)).json()["rows"]}
    assert rows[str(january.rep_a.id)]["activities_logged"] == 3
    assert rows[str(january.rep_b.id)]["activities_logged"] == 2
    own = (await client.get("/v1/analytics/scorecard", params=january.params(), headers=january.rep_b.headers)).json()
    assert [r["activities_logged"] for r in own["rows"]] == [2]
