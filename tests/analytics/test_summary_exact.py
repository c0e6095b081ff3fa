"""The trigger-maintained pre-aggregation equals the raw history: stage_summary against an
independent Python oracle over stage_interval, and stage_rollup against the summary, after
regressions, losses, reopenings, a stage re-ordering and a deletion. Plus the property:
random histories (with a deal deleted, soft or hard, or restored) always give entered = advanced + lost + open (+ moved) and rates in [0, 1]."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.models import Cohort, StageRollup, StageSummary
from app.identity.models import Role
from app.pipelines.models import Opportunity, Stage
from tests.analytics.conftest import January
from tests.analytics.oracle import expected_summary
from tests.analytics.test_duration_histogram import REMOVALS, remove
from tests.support.factories import Tenant
from tests.support.stage_history import PipelineHistory, at


async def assert_summary_matches_history(session: AsyncSession, org_id: uuid.UUID) -> None:
    expected = await expected_summary(session, org_id)
    rows = (await session.execute(select(StageSummary).where(StageSummary.org_id == org_id))).scalars().all()
    actual = {
        (r.opportunity_id, r.stage_id): (r.reached_at, r.outcome.value, r.strict_entered_at,
                                         r.strict_outcome.value if r.strict_outcome else None, r.first_entered_at,
                                         r.visits, r.completed_visits, round(r.completed_seconds, 3), r.open_entered_at)
        for r in rows
    }
    wanted = {
        k: (e.reached_at, e.outcome, e.strict_entered_at, e.strict_outcome, e.first_entered_at, e.visits,
            e.completed_visits, round(e.completed_seconds, 3), e.open_entered_at)
        for k, e in expected.items()
    }
    assert actual == wanted


async def assert_rollup_matches_summary(session: AsyncSession, org_id: uuid.UUID) -> None:
    s = StageSummary
    outcome_counts = lambda col: [func.count().filter(col == o) for o in ("advanced", "lost", "open", "moved")]  # noqa: E731
    from_summary = set()
    for cohort, date_col, outcome in ((Cohort.reached, s.reached_at, s.outcome),
                                      (Cohort.strict, s.strict_entered_at, s.strict_outcome)):
        day = func.date(func.timezone("UTC", date_col))
        stmt = select(s.pipeline_id, s.stage_id, day, s.owner_id, s.team_id, s.source, func.count(),
                      *outcome_counts(outcome)).where(s.org_id == org_id, date_col.is_not(None)).group_by(
            s.pipeline_id, s.stage_id, day, s.owner_id, s.team_id, s.source)
        from_summary |= {(cohort,) + tuple(r) for r in await session.execute(stmt)}
    r = StageRollup
    rollup = {
        tuple(x) for x in await session.execute(
            select(r.cohort, r.pipeline_id, r.stage_id, r.day, r.owner_id, r.team_id, r.source, r.entered,
                   r.advanced, r.lost, r.open, r.moved).where(r.org_id == org_id, r.entered != 0))
    }
    assert rollup == from_summary
    # Cells that emptied keep zeros everywhere, never negative counts.
    bad = await session.scalar(select(func.count()).select_from(r).where(
        r.org_id == org_id, (r.entered < 0) | (r.advanced < 0) | (r.lost < 0) | (r.open < 0) | (r.moved < 0)
        | ((r.entered == 0) & ((r.advanced != 0) | (r.lost != 0) | (r.open != 0) | (r.moved != 0)))))
    assert bad == 0


async def test_summary_and_rollup_match_the_raw_history(session: AsyncSession, january: January) -> None:
    org = january.history.tenant.id
    await assert_summary_matches_history(session, org)
    await assert_rollup_matches_summary(session, org)


async def test_still_exact_after_reopen_regression_reorder_and_delete(session: AsyncSession, january: January) -> None:
    h, org = january.history, january.history.tenant.id
    d1 = january.deals["D1"]
    await h.move(d1, "Negotiation", when=at(20))  # reopen the won deal
    await h.move(d1, "Qualify", when=at(21))      # and regress it
    await h.move(january.deals["D5"], "Lost", when=at(22), lost_reason="Competitor")
    await assert_summary_matches_history(session, org)
    await assert_rollup_matches_summary(session, org)
    # Swap Qualify and Proposal: "later" changes meaning for every deal of the pipeline.
    qualify, proposal = h.stage("Qualify"), h.stage("Proposal")
    await session.execute(update(Stage).where(Stage.id == qualify.id).values(position=35))
    await session.execute(update(Stage).where(Stage.id == proposal.id).values(position=20))
    await assert_summary_matches_history(session, org)
    await assert_rollup_matches_summary(session, org)
    # A deleted deal leaves nothing behind.
    await session.execute(delete(Opportunity).where(Opportunity.id == january.deals["D4"].id))
    left = await session.scalar(select(func.count()).select_from(StageSummary).where(
        StageSummary.opportunity_id == january.deals["D4"].id))
    assert left == 0
    await assert_summary_matches_history(session, org)
    await assert_rollup_matches_summary(session, org)


async def test_bulk_statements_refresh_every_touched_deal(session: AsyncSession, january: January) -> None:
    org = january.history.tenant.id
    # One statement changing many opportunities (an import or a mass update): all refreshed.
    await session.execute(update(Opportunity).where(Opportunity.org_id == org).values(
        source=case((Opportunity.source == "web", "partner"), else_=Opportunity.source)))
    await assert_summary_matches_history(session, org)
    await assert_rollup_matches_summary(session, org)
    sources = set(await session.scalars(select(StageSummary.source).where(StageSummary.org_id == org)))
    assert sources == {"partner", "event"}


# --- property: random histories --------------------------------------------------------

MOVES = st.lists(
    st.tuples(st.sampled_from(["Prospect", "Qualify", "Proposal", "Negotiation", "Won", "Lost"]),
              st.floats(min_value=0.01, max_value=5)),
    max_size=6,
)
DEALS = st.lists(st.tuples(st.sampled_from(["Prospect", "Qualify", "Proposal"]), st.floats(0, 20), MOVES),
                 min_size=1, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deals=DEALS, mode=st.sampled_from(["reached", "strict"]), removal=st.sampled_from(REMOVALS))
async def test_random_histories_add_up(client, session: AsyncSession, tenant: Tenant, deals, mode, removal) -> None:  # type: ignore[no-untyped-def]
    savepoint = await session.begin_nested()
    try:
        rep = await tenant.add_user(Role.rep)
        h = await PipelineHistory.create(tenant, name="random")
        made = await h.replay(rep, deals)
        await remove(session, made[0].id, removal)
        await assert_summary_matches_history(session, tenant.id)
        await assert_rollup_matches_summary(session, tenant.id)
        res = await client.get("/v1/analytics/stage-conversion", headers=tenant.admin.headers, params={
            "pipeline_id": str(h.pipeline.id), "from": "2026-01-01", "to": "2026-03-31", "mode": mode})
        assert res.status_code == 200, res.text
        for row in res.json()["series"][0]["stages"]:
            assert row["moved"] == 0
            assert row["entered"] == row["advanced"] + row["lost"] + row["open"]
            for key in ("conversion_rate", "lost_rate", "open_rate", "cumulative_conversion"):
                assert row[key] is None or 0 <= row[key] <= 1
            if row["entered"]:
                total = row["conversion_rate"] + row["lost_rate"] + row["open_rate"]
                assert abs(total - 1) < 1e-5
    finally:
        await savepoint.rollback()
