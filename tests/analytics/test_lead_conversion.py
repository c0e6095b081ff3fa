"""Lead-to-opportunity conversion (`GET /v1/analytics/lead-conversion`), worked out by hand
(docs/metrics.md has the same example).

January 2026, T0 = Monday 5 January 09:00 UTC; rep B is in the team Mia manages:

  L1 rep A  web_form "Fair"   created d0, converted 10 h later -> D1, won 1000.00
  L2 rep A  web_form          created d1, converted 30 h later -> D3, open
  L3 rep B  event    "Fair"   created d2, converted 20 h later -> D5, open
  L4 rep A  event             created d3, disqualified
  L5 rep B  web_form          created d4, contacted
  L6 -      web_form          created d5, new (unassigned)
  not counted: a lead created in February, one created in December and converted in
  January (the cohort is the creation date), one merged into L1, another organisation's.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from app.leads.models import Lead, LeadStatus
from tests.analytics.conftest import JANUARY, January
from tests.support.factories import Actor, Tenant
from tests.support.stage_history import at

URL = "/v1/analytics/lead-conversion"


async def _lead(tenant: Tenant, owner: Actor | None, created: dt.datetime, *, source: str = "web_form",
                status: LeadStatus = LeadStatus.contacted, converted_after_h: float | None = None,
                campaign: str | None = None, grade: str = "C", merged_into: Lead | None = None) -> Lead:
    lead = Lead(org_id=tenant.id, owner_id=owner.id if owner else None, source=source, last_name="测试",
                campaign=campaign, grade=grade, created_at=created, version=1,
                status=LeadStatus.converted if converted_after_h is not None else status,
                converted_at=created + dt.timedelta(hours=converted_after_h) if converted_after_h is not None else None,
                merged_into_id=merged_into.id if merged_into else None)
    tenant.session.add(lead)
    await tenant.session.flush()
    return lead


@pytest.fixture
async def leads(january: January, other_tenant: Tenant) -> dict[str, Lead]:
    tenant, a, b = january.history.tenant, january.rep_a, january.rep_b
    made = {
        "L1": await _lead(tenant, a, at(0), converted_after_h=10, campaign="Fair", grade="A"),
        "L2": await _lead(tenant, a, at(1), converted_after_h=30, grade="B"),
        "L3": await _lead(tenant, b, at(2), source="event", converted_after_h=20, campaign="Fair", grade="A"),
        "L4": await _lead(tenant, a, at(3), source="event", status=LeadStatus.disqualified),
        "L5": await _lead(tenant, b, at(4)),
        "L6": await _lead(tenant, None, at(5), status=LeadStatus.new),
    }
    await _lead(tenant, a, at(40), converted_after_h=1)  # February
    await _lead(tenant, a, dt.datetime(2025, 12, 30, 9, tzinfo=dt.UTC), converted_after_h=24 * 8)  # December cohort
    await _lead(tenant, a, at(1), converted_after_h=5, merged_into=made["L1"])  # a merged duplicate
    await _lead(other_tenant, other_tenant.admin, at(0), converted_after_h=1)  # another organisation
    # The opportunities they became (lead_id, as conversion sets it): D1 won, D3 and D5 open.
    for lead, deal in (("L1", "D1"), ("L2", "D3"), ("L3", "D5")):
        january.deals[deal].opportunity.lead_id = made[lead].id
    await tenant.session.flush()
    return made


def _row(leads: int, converted: int, disqualified: int, median: float | None, p90: float | None,
         won: int = 0, amount: str = "0.00", group: str | None = None) -> dict:
    return {"group": group, "leads": leads, "converted": converted, "disqualified": disqualified,
            "conversion_rate": round(converted / leads, 6) if leads else None, "median_hours_to_convert": median,
            "p90_hours_to_convert": p90, "won_opportunities": won, "won_amount": amount}


async def test_the_organisation_figure(client: httpx.AsyncClient, january: January, leads: dict[str, Lead]) -> None:
    body = (await client.get(URL, params=JANUARY, headers=january.history.tenant.admin.headers)).json()
    assert body["definition"].startswith("lead-conversion/v1")
    assert body["period"] == {"from": "2026-01-01", "to": "2026-01-31"} and body["currency"] == "CNY"
    # Hours to convert 10, 20, 30: median 20; p90 at rank 0.9 x 2 = 1.8 -> 20 + 0.8 x 10 = 28.
    assert body["rows"] == [_row(6, 3, 1, 20.0, 28.0, won=1, amount="1000.00")]


async def test_grouped_by_source_owner_campaign_and_grade(client: httpx.AsyncClient, january: January,
                                                          leads: dict[str, Lead]) -> None:
    headers = january.history.tenant.admin.headers

    async def rows(group_by: str) -> list[dict]:
        res = await client.get(URL, params={**JANUARY, "group_by": group_by}, headers=headers)
        assert res.status_code == 200 and res.json()["group_by"] == group_by
        return res.json()["rows"]

    assert await rows("source") == [
        _row(2, 1, 1, 20.0, 20.0, group="event"),                                      # L3 L4
        _row(4, 2, 0, 20.0, 28.0, won=1, amount="1000.00", group="web_form"),          # L1 L2 L5 L6: 10 h, 30 h
    ]
    a, b = str(january.rep_a.id), str(january.rep_b.id)
    assert await rows("owner") == sorted([
        _row(3, 2, 1, 20.0, 28.0, won=1, amount="1000.00", group=a),                   # L1 L2 L4
        _row(2, 1, 0, 20.0, 20.0, group=b),                                            # L3 L5
    ], key=lambda r: r["group"]) + [_row(1, 0, 0, None, None)]                         # L6, unassigned
    assert await rows("campaign") == [
        _row(2, 2, 0, 15.0, 19.0, won=1, amount="1000.00", group="Fair"),              # L1 L3: 10 h, 20 h
        _row(4, 1, 1, 30.0, 30.0),                                                     # no campaign
    ]
    assert [(r["group"], r["leads"], r["converted"]) for r in await rows("grade")] == [
        ("A", 2, 2), ("B", 1, 1), ("C", 3, 0)]


async def test_reps_see_their_own_leads_and_managers_their_team(client: httpx.AsyncClient, january: January,
                                                                leads: dict[str, Lead]) -> None:
    mine = (await client.get(URL, params=JANUARY, headers=january.rep_b.headers)).json()
    assert mine["rows"] == [_row(2, 1, 0, 20.0, 20.0)]  # L3 L5; rep A's won deal is not in it
    theirs = (await client.get(URL, params={**JANUARY, "group_by": "owner"}, headers=january.rep_a.headers)).json()
    assert theirs["rows"] == [_row(3, 2, 1, 20.0, 28.0, won=1, amount="1000.00", group=str(january.rep_a.id))]
    team = (await client.get(URL, params=JANUARY, headers=january.manager.headers)).json()
    assert team["rows"] == [_row(2, 1, 0, 20.0, 20.0)]


async def test_won_amount_counts_the_requested_currency_only(client: httpx.AsyncClient, january: January,
                                                             leads: dict[str, Lead]) -> None:
    headers = january.history.tenant.admin.headers
    usd = (await client.get(URL, params={**JANUARY, "currency": "USD"}, headers=headers)).json()
    assert usd["currency"] == "USD"
    assert usd["rows"][0]["won_opportunities"] == 1 and usd["rows"][0]["won_amount"] == "0.00"


async def test_an_empty_period_is_one_row_of_zeros(client: httpx.AsyncClient, january: January,
                                                   leads: dict[str, Lead]) -> None:
    body = (await client.get(URL, params={"from": "2024-01-01", "to": "2024-01-31"},
                             headers=january.history.tenant.admin.headers)).json()
    assert body["rows"] == [_row(0, 0, 0, None, None)]


@pytest.mark.parametrize("params", [
    {"group_by": "team"}, {"group_by": ""}, {"from": "2026-02-01", "to": "2026-01-01"}, {"from": "yesterday"},
    {"currency": "cny"},
])
async def test_bad_parameters_are_a_422_problem(client: httpx.AsyncClient, january: January,
                                                params: dict[str, str]) -> None:
    res = await client.get(URL, params=params, headers=january.history.tenant.admin.headers)
    assert res.status_code == 422, res.text
    assert res.headers["content-type"].startswith("application/problem+json")



async def test_a_deleted_won_deal_is_not_a_won_opportunity(client: httpx.AsyncClient, january: January,
                                                           leads: dict[str, Lead]) -> None:
    admin = january.history.tenant.admin.headers
    res = await client.delete(f"/v1/opportunities/{january.deals['D1'].id}", headers=admin)
    assert res.status_code == 204, res.text
    body = (await client.get(URL, params=JANUARY, headers=admin)).json()
    # L1 still converted (the lead's own history), but the deal it became no longer counts as won.
    assert body["rows"] == [_row(6, 3, 1, 20.0, 28.0, won=0, amount="0.00")]
