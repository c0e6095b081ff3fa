"""A deal deleted through the API (soft delete: deleted_at) counts in no report any more,
worked out by hand on the January history (tests/analytics/conftest.py): the figures read
from the opportunity table and those read from the trigger-maintained summary, rollup and
duration histogram (migration 0020). Amounts: D1 1000 won, D2 500 lost, D3 2000, D4 3000,
D5 400, D6 600, D8 800; probabilities Prospect .1, Qualify .25, Proposal .5, Negotiation .8."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.models import DurationHistogram
from app.analytics.scope import Window
from app.pipelines.models import Opportunity
from tests.analytics.conftest import JANUARY, January
from tests.analytics.test_duration_histogram import assert_fast_equals_sorted
from tests.analytics.test_summary_exact import (
    assert_rollup_matches_summary,
    assert_summary_matches_history,
)

DAY = 86400.0


async def delete_deal(client: httpx.AsyncClient, january: January, name: str) -> None:
    res = await client.delete(f"/v1/opportunities/{january.deals[name].id}", headers=january.history.tenant.admin.headers)
    assert res.status_code == 204, res.text


async def get(client: httpx.AsyncClient, january: January, report: str, **params: str) -> dict:
    res = await client.get(f"/v1/analytics/{report}", params=params or january.params(),
                           headers=january.history.tenant.admin.headers)
    assert res.status_code == 200, res.text
    return res.json()


def stages_of(body: dict) -> dict[str, dict]:
    return {s["name"]: s for s in body["series"][0]["stages"]}


def counts(stage: dict) -> tuple[int, int, int, int]:
    return stage["entered"], stage["advanced"], stage["lost"], stage["open"]


async def test_a_deleted_lost_deal_leaves_every_report(client: httpx.AsyncClient, session: AsyncSession,
                                                       january: January) -> None:
    # D2 rep A, source event: Prospect d0 -> Qualify d3 -> Lost d6 (Price), 500.00.
    await delete_deal(client, january, "D2")

    [row] = (await get(client, january, "win-rate", **JANUARY))["rows"]
    assert (row["won"], row["lost"], row["win_rate"], row["won_amount"], row["lost_amount"]) == (1, 0, 1.0, "1000.00", "0.00")
    lost = await get(client, january, "lost-reasons", **JANUARY)
    assert (lost["by_reason"], lost["by_stage"], lost["by_reason_and_stage"]) == ([], [], [])
    [v] = (await get(client, january, "velocity", **JANUARY))["rows"]
    # 5 open deals x 1.0 x 1000.00 / 14 days.
    assert (v["open_deals"], v["win_rate"], v["velocity_per_day"]) == (5, 1.0, "357.14")

    reached = stages_of(await get(client, january, "stage-conversion"))
    assert counts(reached["Prospect"]) == (5, 4, 0, 1)   # D1 D3 D4 D5 D6; D5 still there
    assert counts(reached["Qualify"]) == (5, 3, 0, 2)    # was (6, 3, 1, 2): D2 was the deal lost from it
    assert counts(reached["Proposal"]) == (3, 1, 0, 2)
    strict = stages_of(await get(client, january, "stage-conversion", **january.params(mode="strict")))
    assert counts(strict["Qualify"]) == (4, 2, 0, 2)     # D1 D4 D6 D8

    body = await get(client, january, "stage-duration")  # the whole organisation: the histogram path
    durations = stages_of(body)
    # Completed Qualify visits: D1 3d, D4 2d and 2d; per deal D1 3d, D4 4d.
    assert durations["Qualify"]["per_visit"] == {"count": 3, "mean_seconds": pytest.approx(7 / 3 * DAY),
                                                 "p50_seconds": 2 * DAY, "p75_seconds": 2.5 * DAY,
                                                 "p90_seconds": pytest.approx(2.8 * DAY)}
    assert durations["Qualify"]["per_deal"] == {"count": 2, "mean_seconds": 3.5 * DAY, "p50_seconds": 3.5 * DAY,
                                                "p75_seconds": 3.75 * DAY, "p90_seconds": pytest.approx(3.9 * DAY)}
    # Prospect visits: D1 2d, D3 3d, D4 1d, D6 1d and 2d.
    assert durations["Prospect"]["per_visit"]["count"] == 5
    assert durations["Prospect"]["per_visit"]["mean_seconds"] == pytest.approx(1.8 * DAY)
    assert body["series"][0]["sales_cycle_lost"]["count"] == 0
    assert body["series"][0]["sales_cycle_won"]["count"] == 1
    # The sorted path (a breakdown) agrees: rep A's Qualify visits are the same three.
    by_owner = await get(client, january, "stage-duration", **january.params(group_by="owner"))
    mine = next(s for s in by_owner["series"] if s["group"] == str(january.rep_a.id))
    qualify = next(st for st in mine["stages"] if st["name"] == "Qualify")
    assert qualify["per_visit"] == durations["Qualify"]["per_visit"]
    assert mine["sales_cycle_lost"]["count"] == 0

    score = {r["owner_id"]: r for r in (await get(client, january, "scorecard"))["rows"]}
    a = score[str(january.rep_a.id)]
    assert (a["new_opportunities"], a["won"], a["lost"], a["win_rate"]) == (3, 1, 0, 1.0)
    assert {s["name"]: (s["entered"], s["advanced"]) for s in a["stages"]}["Qualify"] == (4, 3)

    h = january.history
    await assert_summary_matches_history(session, h.tenant.id)
    await assert_rollup_matches_summary(session, h.tenant.id)
    await assert_fast_equals_sorted(session, h.tenant, h.pipeline.id, Window(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))


async def test_a_deleted_open_deal_leaves_the_pipeline_and_forecast(client: httpx.AsyncClient,
                                                                    january: January) -> None:
    # D3 rep A: Prospect d1 -> Proposal d4 (skipped Qualify), open, 2000.00, expected 10 Feb.
    await delete_deal(client, january, "D3")

    value = await get(client, january, "pipeline-value", pipeline_id=str(january.history.pipeline.id))
    rows = {r["stage_name"]: (r["open_deals"], r["amount"], r["weighted_amount"]) for r in value["rows"]}
    assert rows["Proposal"] == (1, "3000.00", "1500.00")
    forecast = await get(client, january, "forecast", **{"from": "2026-01-01", "to": "2026-02-28"})
    feb = {r["month"]: r for r in forecast["rows"]}["2026-02-01"]
    assert (feb["open_deals"], feb["weighted_amount"], feb["best_case_amount"]) == (1, "1500.00", "3000.00")
    [v] = (await get(client, january, "velocity", **JANUARY))["rows"]
    assert (v["open_deals"], v["velocity_per_day"]) == (4, "142.86")  # 4 x 0.5 x 1000.00 / 14
    a = {r["owner_id"]: r for r in (await get(client, january, "scorecard"))["rows"]}[str(january.rep_a.id)]
    assert (a["new_opportunities"], a["pipeline_amount"]) == (3, "3800.00")
    reached = stages_of(await get(client, january, "stage-conversion"))
    assert counts(reached["Qualify"]) == (5, 2, 1, 2)    # D3 had passed it by skipping
    assert counts(reached["Proposal"]) == (2, 1, 0, 1)   # D1 D4
    durations = stages_of(await get(client, january, "stage-duration"))
    assert durations["Proposal"]["open_age"]["count"] == 1  # D4 only


async def test_restoring_a_deal_brings_its_figures_back(client: httpx.AsyncClient, session: AsyncSession,
                                                        january: January) -> None:
    """Clearing deleted_at (no API restores yet; a data repair would) puts the deal back in
    the same transaction: the summary, rollup and histogram equal a never-deleted history."""
    before = await get(client, january, "stage-conversion")
    durations_before = await get(client, january, "stage-duration")
    await delete_deal(client, january, "D1")
    assert stages_of(await get(client, january, "stage-conversion"))["Negotiation"]["entered"] == 0
    await session.execute(update(Opportunity).where(Opportunity.id == january.deals["D1"].id).values(deleted_at=None))
    assert (await get(client, january, "stage-conversion"))["series"] == before["series"]
    after = await get(client, january, "stage-duration")
    for old, new in zip(durations_before["series"][0]["stages"], after["series"][0]["stages"], strict=True):
        assert (old["per_visit"], old["per_deal"]) == (new["per_visit"], new["per_deal"])
    assert after["series"][0]["sales_cycle_won"] == durations_before["series"][0]["sales_cycle_won"]
    h = january.history
    await assert_summary_matches_history(session, h.tenant.id)
    await assert_rollup_matches_summary(session, h.tenant.id)
    await assert_fast_equals_sorted(session, h.tenant, h.pipeline.id, Window(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))


async def test_a_deleted_deal_purged_later_is_not_taken_out_twice(client: httpx.AsyncClient, session: AsyncSession,
                                                                  january: January) -> None:
    """Hard-deleting a soft-deleted deal (administrative; the API never does) cascades to its
    visits: their histogram counts, already out, must not go negative."""
    await delete_deal(client, january, "D4")
    await session.execute(delete(Opportunity).where(Opportunity.id == january.deals["D4"].id))
    h = january.history
    await assert_fast_equals_sorted(session, h.tenant, h.pipeline.id, Window(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
    negative = await session.scalar(select(func.count()).select_from(DurationHistogram).where(
        DurationHistogram.org_id == h.tenant.id, DurationHistogram.n < 0))
    assert negative == 0
    # Qualify visits left: D1 3d, D2 3d (D4's two 2-day visits went with the deal).
    qualify = stages_of(await get(client, january, "stage-duration"))["Qualify"]
    assert (qualify["per_visit"]["count"], qualify["per_visit"]["mean_seconds"]) == (2, 3 * DAY)
