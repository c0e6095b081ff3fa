"""Win rate, lost reasons, forecast, velocity, pipeline value and the rep scorecard on the
hand-built January history (amounts: D1 1000 won, D2 500 lost, D3 2000, D4 3000, D5 400,
D6 600, D8 800; probabilities Prospect .1, Qualify .25, Proposal .5, Negotiation .8)."""

from __future__ import annotations

import httpx

from tests.analytics.conftest import JANUARY, January


def admin(j: January) -> dict[str, str]:
    return j.history.tenant.admin.headers


async def test_win_rate_and_grouping(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/win-rate", params=JANUARY, headers=admin(january))
    assert res.status_code == 200, res.text
    [row] = res.json()["rows"]
    # Closed in January: D1 won, D2 lost (D6 was lost, then reopened: open now).
    assert (row["won"], row["lost"], row["win_rate"], row["won_amount"], row["lost_amount"]) == (1, 1, 0.5, "1000.00", "500.00")
    res = await client.get("/v1/analytics/win-rate", params={**JANUARY, "group_by": "source"}, headers=admin(january))
    by_source = {r["group"]: (r["won"], r["lost"]) for r in res.json()["rows"]}
    assert by_source == {"web": (1, 0), "event": (0, 1)}
    res = await client.get("/v1/analytics/win-rate", params=JANUARY, headers=january.rep_b.headers)
    assert res.json()["rows"][0]["won"] == 0
    res = await client.get("/v1/analytics/win-rate", params={**JANUARY, "currency": "USD"}, headers=admin(january))
    assert res.json()["rows"][0]["won_amount"] == "0.00" and res.json()["rows"][0]["won"] == 1


async def test_lost_reasons_by_reason_and_stage(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/lost-reasons", params=JANUARY, headers=admin(january))
    body = res.json()
    assert [(r["reason"], r["count"], r["amount"]) for r in body["by_reason"]] == [("Price", 1, "500.00")]
    assert [(r["stage_name"], r["count"]) for r in body["by_stage"]] == [("Qualify", 1)]
    assert [(r["reason"], r["stage_name"]) for r in body["by_reason_and_stage"]] == [("Price", "Qualify")]


async def test_pipeline_value_by_stage(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/pipeline-value", params={"pipeline_id": str(january.history.pipeline.id)},
                           headers=admin(january))
    rows = {r["stage_name"]: (r["open_deals"], r["amount"], r["weighted_amount"]) for r in res.json()["rows"]}
    assert rows == {"Prospect": (1, "400.00", "40.00"), "Qualify": (2, "1400.00", "350.00"),
                    "Proposal": (2, "5000.00", "2500.00"), "Negotiation": (0, "0.00", "0.00")}


async def test_forecast_by_expected_close_month(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/forecast", params={"from": "2026-01-01", "to": "2026-02-28"},
                           headers=admin(january))
    assert res.status_code == 200, res.text
    rows = {r["month"]: r for r in res.json()["rows"]}
    jan, feb = rows["2026-01-01"], rows["2026-02-01"]
    # January: D5 open (400 x .1) and D1 won on 19 Jan (1000).
    assert (jan["open_deals"], jan["pipeline_amount"], jan["weighted_amount"], jan["committed_amount"],
            jan["best_case_amount"], jan["closed_won_amount"]) == (1, "400.00", "1040.00", "1000.00", "1400.00", "1000.00")
    # February: D3 and D4 in Proposal (.5), below the .7 commit line.
    assert (feb["open_deals"], feb["weighted_amount"], feb["committed_amount"], feb["best_case_amount"]) == (
        2, "2500.00", "0.00", "5000.00")
    res = await client.get("/v1/analytics/forecast", params={"from": "2026-01-01", "to": "2026-02-28",
                                                             "commit_probability": "0.5"}, headers=admin(january))
    assert {r["month"]: r["committed_amount"] for r in res.json()["rows"]}["2026-02-01"] == "5000.00"


async def test_sales_velocity(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/velocity", params=JANUARY, headers=admin(january))
    [row] = res.json()["rows"]
    # 5 open deals x 0.5 x 1000.00 / 14 days.
    assert (row["open_deals"], row["win_rate"], row["average_won_amount"], row["average_cycle_days"]) == (5, 0.5, "1000.00", 14.0)
    assert row["velocity_per_day"] == "178.57"


async def test_rep_scorecard(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/scorecard", params=january.params(), headers=admin(january))
    assert res.status_code == 200, res.text
    rows = {r["owner_id"]: r for r in res.json()["rows"]}
    a, b = rows[str(january.rep_a.id)], rows[str(january.rep_b.id)]
    assert (a["new_opportunities"], a["pipeline_amount"], a["won"], a["lost"], a["win_rate"], a["won_amount"],
            a["average_cycle_days"]) == (4, "5800.00", 1, 1, 0.5, "1000.00", 14.0)
    assert {s["name"]: (s["entered"], s["advanced"]) for s in a["stages"]}["Qualify"] == (5, 3)
    assert (b["new_opportunities"], b["pipeline_amount"], b["win_rate"]) == (2, "1000.00", None)
    # A rep's scorecard holds only that rep.
    res = await client.get("/v1/analytics/scorecard", params=january.params(), headers=january.rep_b.headers)
    assert [r["owner_id"] for r in res.json()["rows"]] == [str(january.rep_b.id)]


async def test_a_bad_period_is_a_422_problem_on_every_report(client: httpx.AsyncClient, january: January) -> None:
    pipeline = str(january.history.pipeline.id)
    for path in ("stage-conversion", "stage-duration", "win-rate", "lost-reasons", "forecast", "velocity", "scorecard",
                 "lead-conversion"):
        for period, detail in (({"from": "2026-02-01", "to": "2026-01-01"}, "`from` must be on or before `to`"),
                               ({"from": "2010-01-01", "to": "2026-01-01"}, "A period spans at most 3660 days"),
                               ({"from": "0", "to": "2026-01-01"}, None)):
            res = await client.get(f"/v1/analytics/{path}", params={"pipeline_id": pipeline, **period},
                                   headers=admin(january))
            assert res.status_code == 422, (path, period, res.text)
            assert res.headers["content-type"].startswith("application/problem+json")
            if detail:
                assert detail in res.json()["detail"], res.json()
