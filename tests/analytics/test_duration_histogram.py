"""The histogram path of stage-duration (migration 0013) gives exactly what sorting every
value in SQL gives: same counts, same percentiles to the last bit, means equal up to float
rounding (the histogram sums exactly in numeric; the sorted path averages float8 for the
per-deal figure). Checked on the hand-built January history and on random histories,
after moves, reopenings and a deletion (hard, soft, soft undone), for random periods."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import histogram
from app.analytics.schemas import DurationStats
from app.analytics.scope import Window
from app.analytics.stages import sorted_durations
from app.identity.models import Role
from app.pipelines.models import Opportunity
from tests.analytics.conftest import January
from tests.support.factories import Tenant
from tests.support.stage_history import PipelineHistory, at


def same(fast: DurationStats | None, slow: DurationStats | None) -> None:
    empty = DurationStats(count=0, mean_seconds=None, p50_seconds=None, p75_seconds=None, p90_seconds=None)
    fast, slow = fast or empty, slow or empty
    assert fast.count == slow.count
    assert (fast.p50_seconds, fast.p75_seconds, fast.p90_seconds) == (slow.p50_seconds, slow.p75_seconds, slow.p90_seconds)
    assert fast.mean_seconds == (None if slow.mean_seconds is None else pytest.approx(slow.mean_seconds, rel=1e-12))


async def assert_fast_equals_sorted(session: AsyncSession, tenant: Tenant, pipeline_id, window: Window) -> int:  # type: ignore[no-untyped-def]
    now = await session.scalar(select(func.now()))
    fast = await histogram.durations(session, None, org=tenant.id, pipeline_id=pipeline_id, window=window, now=now)
    deal, visit, age, cycle = await sorted_durations(
        session, tenant.admin.principal, pipeline_id=pipeline_id, window=window, group_by=None, interval=None, now=now)
    slow = {("deal", p): v for (_, p), v in deal.items()} | {("visit", p): v for (_, p), v in visit.items()}
    slow |= {("open", p): v for (_, p), v in age.items()} | {(f, None): v for (_, f), v in cycle.items()}
    assert set(fast) == {k for k, v in slow.items() if v.count}
    for key in fast:
        same(fast[key], slow[key])
    return len(fast)


async def test_january_both_paths_agree(session: AsyncSession, january: January) -> None:
    h = january.history
    for first, last in ((dt.date(2026, 1, 1), dt.date(2026, 1, 31)), (dt.date(2026, 1, 6), dt.date(2026, 1, 6)),
                        (dt.date(2025, 12, 1), dt.date(2026, 2, 28))):
        assert await assert_fast_equals_sorted(session, h.tenant, h.pipeline.id, Window(first, last)) > 0


MOVES = st.lists(
    st.tuples(st.sampled_from(["Prospect", "Qualify", "Proposal", "Negotiation", "Won", "Lost"]),
              # From under a second to weeks: many buckets, and ties.
              st.one_of(st.sampled_from([0.5 / 86400, 1.0, 2.0]), st.floats(min_value=1e-5, max_value=20))),
    max_size=6,
)
DEALS = st.lists(st.tuples(st.sampled_from(["Prospect", "Qualify", "Proposal"]), st.floats(-10, 40), MOVES),
                 min_size=1, max_size=8)


# What happens to the first deal afterwards: nothing, a hard delete (the delete triggers take
# its rows out), a soft delete (deleted_at, as the API does), a soft delete undone, or a soft
# delete followed by a hard one (its visits must not be taken out twice).
REMOVALS = ["none", "hard", "soft", "soft+restore", "soft+hard"]


async def remove(session: AsyncSession, deal_id, how: str) -> None:  # type: ignore[no-untyped-def]
    if how.startswith("soft"):
        await session.execute(update(Opportunity).where(Opportunity.id == deal_id).values(deleted_at=func.now()))
    if how.endswith("restore"):
        await session.execute(update(Opportunity).where(Opportunity.id == deal_id).values(deleted_at=None))
    if how.endswith("hard"):
        await session.execute(delete(Opportunity).where(Opportunity.id == deal_id))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deals=DEALS, first=st.integers(-15, 40), days=st.integers(1, 60), removal=st.sampled_from(REMOVALS))
async def test_random_histories_both_paths_agree(session: AsyncSession, tenant: Tenant, deals, first, days,  # type: ignore[no-untyped-def]
                                                 removal) -> None:
    savepoint = await session.begin_nested()
    try:
        rep = await tenant.add_user(Role.rep)
        h = await PipelineHistory.create(tenant, name="random")
        made = await h.replay(rep, deals)
        await remove(session, made[0].id, removal)
        start = at(first).date()
        await assert_fast_equals_sorted(session, tenant, h.pipeline.id, Window(start, start + dt.timedelta(days=days)))
    finally:
        await savepoint.rollback()


async def test_figures_run_concurrently_over_http_on_a_real_database(committed_client: httpx.AsyncClient,
                                                                      committed_tenant: Tenant) -> None:
    """With a real database the report's figures run on connections of their own (not the
    test's rolled-back transaction), so this history is committed; the figures are the same."""
    t = committed_tenant
    rep = await t.add_user(Role.rep)
    h = await PipelineHistory.create(t)
    d1 = await h.open_deal(rep, when=at(0))
    await h.path(d1, ("Qualify", 2), ("Won", 5))
    d2 = await h.open_deal(rep, when=at(1))
    await h.path(d2, ("Qualify", 2))
    await t.session.commit()
    res = await committed_client.get("/v1/analytics/stage-duration", headers=t.admin.headers, params={
        "pipeline_id": str(h.pipeline.id), "from": "2026-01-01", "to": "2026-01-31"})
    assert res.status_code == 200, res.text
    series = res.json()["series"]
    assert len(series) == 1
    stages = {s["name"]: s for s in series[0]["stages"]}
    day = 86400.0
    # Prospect visits of 2 days (D1) and 1 day (D2); D1's Qualify 3 days; D2 is in Qualify now.
    assert stages["Prospect"]["per_visit"] == {"count": 2, "mean_seconds": 1.5 * day, "p50_seconds": 1.5 * day,
                                               "p75_seconds": 1.75 * day, "p90_seconds": 1.9 * day}
    assert stages["Qualify"]["per_deal"]["count"] == 1 and stages["Qualify"]["per_deal"]["p90_seconds"] == 3 * day
    assert stages["Qualify"]["open_age"]["count"] == 1
    assert series[0]["sales_cycle_won"]["mean_seconds"] == 5 * day
    # The rep's own view (the sorted path) agrees; ages differ only by the time between the calls.
    mine = await committed_client.get("/v1/analytics/stage-duration", headers=rep.headers, params={
        "pipeline_id": str(h.pipeline.id), "from": "2026-01-01", "to": "2026-01-31"})
    for theirs, ours in zip(mine.json()["series"][0]["stages"], series[0]["stages"], strict=True):
        assert (theirs["per_visit"], theirs["per_deal"]) == (ours["per_visit"], ours["per_deal"])
        assert theirs["open_age"]["count"] == ours["open_age"]["count"]
