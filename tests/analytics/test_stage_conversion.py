"""Per-stage conversion on the hand-built January history (tests/analytics/conftest.py)."""

from __future__ import annotations

import uuid

import httpx

from tests.analytics.conftest import January

DAY = 86400.0


def by_name(body: dict, series: int = 0) -> dict[str, dict]:
    return {s["name"]: s for s in body["series"][series]["stages"]}


def counts(stage: dict) -> tuple[int, int, int, int]:
    return stage["entered"], stage["advanced"], stage["lost"], stage["open"]


async def test_reached_mode_counts_skipped_stages_as_passed(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(), headers=january.history.tenant.admin.headers)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["mode"] == "reached" and body["cohort"].startswith("reached")
    assert body["definition"].startswith("stage-conversion/v1")
    stages = by_name(body)
    assert list(stages) == ["Prospect", "Qualify", "Proposal", "Negotiation"]
    # Prospect: D1-D6 reached it in January (D8 in December); all but D5 went further.
    assert counts(stages["Prospect"]) == (6, 5, 0, 1)
    # Qualify: D1 D2 D4 D6 D8 entered it, D3 passed it by skipping; D2 was lost from it.
    assert counts(stages["Qualify"]) == (6, 3, 1, 2)
    # Proposal: D1 D3 D4; only D1 went on (D4 regressed and came back, still open).
    assert counts(stages["Proposal"]) == (3, 1, 0, 2)
    assert counts(stages["Negotiation"]) == (1, 1, 0, 0)
    assert stages["Prospect"]["conversion_rate"] == round(5 / 6, 6)
    assert stages["Qualify"]["conversion_rate"] == 0.5
    assert stages["Qualify"]["lost_rate"] == round(1 / 6, 6)
    assert stages["Qualify"]["open_rate"] == round(2 / 6, 6)
    assert stages["Proposal"]["conversion_rate"] == round(1 / 3, 6)
    assert stages["Prospect"]["cumulative_conversion"] == 1
    assert stages["Qualify"]["cumulative_conversion"] == round(5 / 6, 6)
    assert stages["Proposal"]["cumulative_conversion"] == round(5 / 6 * 0.5, 6)
    assert stages["Negotiation"]["cumulative_conversion"] == round(5 / 6 * 0.5 / 3, 6)


async def test_strict_mode_needs_every_earlier_stage_first(client: httpx.AsyncClient, january: January) -> None:
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(mode="strict"),
                           headers=january.history.tenant.admin.headers)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["mode"] == "strict" and body["cohort"].startswith("strict")
    stages = by_name(body)
    assert counts(stages["Prospect"]) == (6, 5, 0, 1)
    # D3 never entered Qualify: out. D4 advanced (its later Proposal entry follows its first Qualify entry).
    assert counts(stages["Qualify"]) == (5, 2, 1, 2)
    # D3 skipped Qualify, so it does not count for Proposal either.
    assert counts(stages["Proposal"]) == (2, 1, 0, 1)
    assert counts(stages["Negotiation"]) == (1, 1, 0, 0)


async def test_visibility_rep_sees_own_and_manager_sees_subtree(client: httpx.AsyncClient, january: January) -> None:
    for actor in (january.rep_b, january.manager):
        res = await client.get("/v1/analytics/stage-conversion", params=january.params(), headers=actor.headers)
        assert res.status_code == 200, res.text
        stages = by_name(res.json())
        # Only rep B's D5 (still in Prospect) and D6 (lost, reopened, now in Qualify).
        assert counts(stages["Prospect"]) == (2, 1, 0, 1)
        assert counts(stages["Qualify"]) == (1, 0, 0, 1)
        assert counts(stages["Proposal"]) == (0, 0, 0, 0)
        assert stages["Proposal"]["conversion_rate"] is None
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(), headers=january.rep_a.headers)
    stages = by_name(res.json())
    assert counts(stages["Prospect"]) == (4, 4, 0, 0)  # D1-D4


async def test_group_by_owner_and_weekly_series(client: httpx.AsyncClient, january: January) -> None:
    admin = january.history.tenant.admin.headers
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(group_by="owner"), headers=admin)
    assert res.status_code == 200, res.text
    groups = {s["group"]: {st["name"]: counts(st) for st in s["stages"]} for s in res.json()["series"]}
    assert groups[str(january.rep_a.id)]["Prospect"] == (4, 4, 0, 0)
    assert groups[str(january.rep_b.id)]["Prospect"] == (2, 1, 0, 1)
    assert groups[str(january.rep_a.id)]["Qualify"] == (5, 3, 1, 1)  # D1 D2 D3 D4 D8

    res = await client.get("/v1/analytics/stage-conversion", params=january.params(interval="week"), headers=admin)
    weeks = {s["period_start"]: {st["name"]: st["entered"] for st in s["stages"]} for s in res.json()["series"]}
    # Week of Mon 5 Jan: every Prospect and Qualify entry but D6's Qualify (d7 = Mon 12 Jan).
    assert weeks["2026-01-05"]["Prospect"] == 6
    assert weeks["2026-01-05"]["Qualify"] == 5
    assert weeks["2026-01-12"]["Qualify"] == 1
    assert weeks["2026-01-05"]["Proposal"] == 3 and weeks["2026-01-12"]["Negotiation"] == 1  # D1 on d9, Wed 14 Jan


async def test_another_organisation_sees_only_its_own_deal(client: httpx.AsyncClient, january: January, other_tenant) -> None:  # type: ignore[no-untyped-def]
    # Every figure taking a pipeline id answers 404 for another organisation's pipeline,
    # exactly as for one that does not exist.
    for path in ("stage-conversion", "stage-duration", "pipeline-value", "scorecard", "win-rate", "lost-reasons",
                 "forecast", "velocity"):
        res = await client.get(f"/v1/analytics/{path}", params=january.params(), headers=other_tenant.admin.headers)
        missing = await client.get(f"/v1/analytics/{path}", params={**january.params(), "pipeline_id": str(uuid.uuid4())},
                                   headers=other_tenant.admin.headers)
        assert res.status_code == missing.status_code == 404, path
        assert res.json()["detail"] == missing.json()["detail"]


async def test_bad_parameters_are_clear_4xx(client: httpx.AsyncClient, january: January) -> None:
    admin = january.history.tenant.admin.headers
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(**{"from": "2026-02-01"}), headers=admin)
    assert res.status_code == 422 and res.json()["code"] == "invalid-period"
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(group_by="pipeline"), headers=admin)
    assert res.status_code == 422 and res.json()["code"] == "invalid-grouping"
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(mode="loose"), headers=admin)
    assert res.status_code == 422
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(to="0"), headers=admin)
    assert res.status_code == 422  # not read as a Unix timestamp
    res = await client.get("/v1/analytics/stage-conversion", params=january.params(to="2026-02-30"), headers=admin)
    assert res.status_code == 422
    res = await client.get("/v1/analytics/stage-conversion", params={"pipeline_id": "nope"}, headers=admin)
    assert res.status_code == 422
    res = await client.get("/v1/analytics/stage-conversion", params=january.params())
    assert res.status_code == 401
