"""Time in stage and sales cycle on the hand-built January history."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.analytics.conftest import January
from tests.support.stage_history import at

DAY = 86400.0


def stage(body: dict, name: str, series: int = 0) -> dict:
    return next(s for s in body["series"][series]["stages"] if s["name"] == name)


async def test_per_visit_per_deal_and_open_age(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-duration", params=january.params(),
                           headers=january.history.tenant.admin.headers)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["definition"].startswith("stage-duration/v1")
    qualify = stage(body, "Qualify")
    # Completed Qualify visits entered in January: D1 3d, D2 3d, D4 2d and 2d (it came back).
    assert qualify["per_visit"] == {"count": 4, "mean_seconds": 2.5 * DAY, "p50_seconds": 2.5 * DAY,
                                    "p75_seconds": 3 * DAY, "p90_seconds": 3 * DAY}
    # Per deal, visits summed, deals with no open Qualify visit: D1 3d, D2 3d, D4 4d.
    per_deal = qualify["per_deal"]
    assert per_deal["count"] == 3
    assert per_deal["mean_seconds"] == pytest.approx(10 / 3 * DAY)
    assert per_deal["p50_seconds"] == 3 * DAY
    assert per_deal["p75_seconds"] == pytest.approx(3.5 * DAY)
    assert per_deal["p90_seconds"] == pytest.approx(3.8 * DAY)
    # Open now in Qualify: D6 (since d7) and D8 (since d1); ages measured at as_of.
    as_of = dt.datetime.fromisoformat(body["as_of"])
    ages = sorted([(as_of - at(7)).total_seconds(), (as_of - at(1)).total_seconds()])
    assert qualify["open_age"]["count"] == 2
    assert qualify["open_age"]["mean_seconds"] == pytest.approx(sum(ages) / 2)
    assert qualify["open_age"]["p50_seconds"] == pytest.approx(sum(ages) / 2)
    # Prospect per visit: D1 2d, D2 3d, D3 3d, D4 1d, D6 1d then 2d (reopened); D5 still open.
    prospect = stage(body, "Prospect")
    assert prospect["per_visit"]["count"] == 6
    assert prospect["per_visit"]["mean_seconds"] == pytest.approx(12 / 6 * DAY)
    # Negotiation: D1 5 days.
    assert stage(body, "Negotiation")["per_deal"]["mean_seconds"] == 5 * DAY


async def test_sales_cycle_split_won_and_lost(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-duration", params=january.params(),
                           headers=january.history.tenant.admin.headers)
    series = res.json()["series"][0]
    # Won: D1 after 14 days. Lost: D2 after 6 days (D6 was lost but reopened: open now).
    assert series["sales_cycle_won"]["count"] == 1 and series["sales_cycle_won"]["mean_seconds"] == 14 * DAY
    assert series["sales_cycle_lost"]["count"] == 1 and series["sales_cycle_lost"]["p90_seconds"] == 6 * DAY


async def test_rep_sees_only_own_durations(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-duration", params=january.params(), headers=january.rep_b.headers)
    body = res.json()
    prospect = stage(body, "Prospect")
    # D6's two Prospect visits (1d and 2d), summed per deal: 3d; D5 is still open in Prospect.
    assert prospect["per_visit"]["count"] == 2 and prospect["per_visit"]["mean_seconds"] == 1.5 * DAY
    assert prospect["per_deal"]["count"] == 1 and prospect["per_deal"]["mean_seconds"] == 3 * DAY
    assert prospect["open_age"]["count"] == 1
    assert body["series"][0]["sales_cycle_won"]["count"] == 0


async def test_grouped_by_source(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-duration", params=january.params(group_by="source"),
                           headers=january.history.tenant.admin.headers)
    assert res.status_code == 200, res.text
    groups = {s["group"]: s for s in res.json()["series"]}
    # D2 is the only "event" deal with a completed Qualify visit (3 days); D5 sits in Prospect.
    q = next(st for st in groups["event"]["stages"] if st["name"] == "Qualify")
    assert q["per_visit"]["count"] == 1 and q["per_visit"]["mean_seconds"] == 3 * DAY
    assert groups["event"]["sales_cycle_lost"]["count"] == 1
