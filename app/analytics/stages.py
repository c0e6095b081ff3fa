"""Stage conversion and time in stage, read from the trigger-maintained pre-aggregation
(stage_rollup for counts, stage_summary and the covering interval index for durations).
Definitions: docs/metrics.md."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import ColumnElement, True_

from app.analytics import histogram, lead_activity
from app.analytics.models import Cohort, StageRollup, StageSummary
from app.analytics.schemas import (
    ConversionMode,
    ConversionSeries,
    DurationSeries,
    DurationStats,
    GroupBy,
    Interval,
    StageConversion,
    StageConversionReport,
    StageDuration,
    StageDurationReport,
)
from app.analytics.scope import (
    Window,
    bucket_expr,
    group_expr,
    pipeline_stages,
    rate,
    tune,
    utc,
    visible,
)
from app.analytics.stats import stats_columns, to_stats
from app.identity.principal import Principal
from app.pipelines.models import Opportunity, OpportunityStatus, StageInterval

EMPTY = to_stats(None)

CONVERSION_DEFINITION = (
    "stage-conversion/v1: of the deals in a stage's cohort, advanced = later entered a stage ordered after it "
    "(won counts as after every open stage), else lost / open by the deal's status now (moved: changed pipeline)"
)
COHORTS = {
    ConversionMode.reached: "reached: dated by the first time the deal was in the stage or any later one; "
    "a deal that skipped the stage counts as having passed it",
    ConversionMode.strict: "strict: dated by the first entry into the stage itself; only deals that entered "
    "every earlier open stage before it count",
}
DURATION_DEFINITION = (
    "stage-duration/v1: completed visits by entry date in the period (per visit, and per deal with all its "
    "visits summed when none is open); open_age = now - entry of the current visit; sales cycle = "
    "closed_at - created_at of deals won or lost in the period"
)


def _key(row: Any) -> tuple[str | None, dt.date | None]:
    return (row.grp, row.bucket)


def _dims(group: ColumnElement[Any] | None, bucket: ColumnElement[Any] | None) -> list[ColumnElement[Any]]:
    return [
        (group if group is not None else literal(None)).label("grp"),
        (bucket if bucket is not None else literal(None)).label("bucket"),
    ]


async def stage_conversion(
    session: AsyncSession,
    principal: Principal,
    *,
    pipeline_id: uuid.UUID,
    window: Window,
    mode: ConversionMode,
    group_by: GroupBy | None,
    interval: Interval | None,
) -> StageConversionReport:
    stages = await pipeline_stages(session, principal, pipeline_id)
    r = StageRollup
    group = group_expr(group_by, {GroupBy.owner: r.owner_id, GroupBy.team: r.team_id, GroupBy.source: r.source})
    bucket = bucket_expr(interval, r.day)
    dims = _dims(group, bucket)
    stmt = (
        select(
            r.stage_id, *dims,
            func.sum(r.entered).label("entered"), func.sum(r.advanced).label("advanced"),
            func.sum(r.lost).label("lost"), func.sum(r.open).label("open"), func.sum(r.moved).label("moved"),
        )
        .where(
            r.org_id == principal.org_id, r.pipeline_id == pipeline_id, r.cohort == Cohort(mode.value),
            r.day >= window.from_date, r.day <= window.to_date, visible(principal, r.owner_id),
        )
        .group_by(r.stage_id, *[d for d in (group, bucket) if d is not None])
    )
    await tune(session)
    counts: dict[tuple[str | None, dt.date | None], dict[uuid.UUID, Any]] = defaultdict(dict)
    for row in await session.execute(stmt):
        counts[_key(row)][row.stage_id] = row
    keys = sorted(counts, key=lambda k: (k[0] or "", k[1] or dt.date.min)) or [(None, None)]
    series = []
    for key in keys:
        per_stage = counts.get(key, {})
        out, cumulative = [], 1.0
        for stage in stages:
            row = per_stage.get(stage.id)
            entered, advanced, lost, open_, moved = (
                (int(row.entered), int(row.advanced), int(row.lost), int(row.open), int(row.moved)) if row else (0, 0, 0, 0, 0)
            )
            conversion = rate(advanced, entered)
            out.append(StageConversion(
                stage_id=stage.id, name=stage.name, position=stage.position, entered=entered, advanced=advanced,
                lost=lost, open=open_, moved=moved, conversion_rate=conversion, lost_rate=rate(lost, entered),
                open_rate=rate(open_, entered),
                cumulative_conversion=round(cumulative, 6) if cumulative is not None else None,
            ))
            cumulative = cumulative * advanced / entered if (cumulative is not None and entered) else None
        series.append(ConversionSeries(group=key[0], period_start=key[1], stages=out))
    return StageConversionReport(
        definition=CONVERSION_DEFINITION, mode=mode, cohort=COHORTS[mode], pipeline_id=pipeline_id,
        period=window.period(), group_by=group_by, interval=interval, series=series,
    )


DurationCells = dict[Any, DurationStats]


async def sorted_durations(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID, window: Window,
    group_by: GroupBy | None, interval: Interval | None, now: dt.datetime,
) -> tuple[DurationCells, DurationCells, DurationCells, DurationCells]:
    """The sorted path, for any breakdown or visibility filter: every value of the period
    through percentile_cont (the histogram has no owner, team or source dimension)."""
    org = principal.org_id

    # Per deal: the summary row holds the deal's completed visits summed.
    s = StageSummary
    group = group_expr(group_by, {GroupBy.owner: s.owner_id, GroupBy.team: s.team_id, GroupBy.source: s.source})
    bucket = bucket_expr(interval, utc(s.first_entered_at))
    per_deal = select(s.stage_id, *_dims(group, bucket), *stats_columns(s.completed_seconds)).where(
        s.org_id == org, s.pipeline_id == pipeline_id, s.first_entered_at >= window.start,
        s.first_entered_at < window.end, s.first_entered_at.is_not(None), s.completed_visits == s.visits,
        visible(principal, s.owner_id),
    ).group_by(s.stage_id, *[d for d in (group, bucket) if d is not None])

    # Open visits now, whatever the period.
    age_group = group_expr(group_by, {GroupBy.owner: s.owner_id, GroupBy.team: s.team_id, GroupBy.source: s.source})
    age_value = extract("epoch", literal(now) - s.open_entered_at)
    open_age = select(s.stage_id, *_dims(age_group, None), *stats_columns(age_value)).where(
        s.org_id == org, s.pipeline_id == pipeline_id, s.open_entered_at.is_not(None), visible(principal, s.owner_id),
    ).group_by(s.stage_id, *[d for d in (age_group,) if d is not None])

    # Per visit: straight from the intervals, through their covering index; a deleted deal's
    # visits do not count (as in the histogram, migration 0020).
    i = StageInterval
    o = Opportunity
    visit_group = group_expr(group_by, {GroupBy.owner: i.owner_id, GroupBy.team: i.team_id, GroupBy.source: o.source})
    visit_bucket = bucket_expr(interval, utc(i.entered_at))
    per_visit = select(
        i.stage_id, *_dims(visit_group, visit_bucket), *stats_columns(extract("epoch", i.exited_at - i.entered_at))
    ).where(
        i.org_id == org, i.pipeline_id == pipeline_id, i.entered_at >= window.start, i.entered_at < window.end,
        i.exited_at.is_not(None), visible(principal, i.owner_id), o.deleted_at.is_(None),
    ).join(o, and_(o.org_id == i.org_id, o.id == i.opportunity_id)).group_by(
        i.stage_id, *[d for d in (visit_group, visit_bucket) if d is not None])

    # Sales cycle of the deals closed in the period.
    cycle_group = group_expr(group_by, {GroupBy.owner: o.owner_id, GroupBy.team: o.team_id, GroupBy.source: o.source})
    cycle_bucket = bucket_expr(interval, utc(o.closed_at))
    cycle = select(
        o.status, *_dims(cycle_group, cycle_bucket), *stats_columns(extract("epoch", o.closed_at - o.created_at))
    ).where(
        o.org_id == org, o.pipeline_id == pipeline_id, o.closed_at >= window.start, o.closed_at < window.end,
        o.status.in_([OpportunityStatus.won, OpportunityStatus.lost]), o.deleted_at.is_(None),
        visible(principal, o.owner_id),
    ).group_by(o.status, *[d for d in (cycle_group, cycle_bucket) if d is not None])

    deal_rows = {(_key(r), r.stage_id): to_stats(r) for r in await session.execute(per_deal)}
    visit_rows = {(_key(r), r.stage_id): to_stats(r) for r in await session.execute(per_visit)}
    age_rows = {(r.grp, r.stage_id): to_stats(r) for r in await session.execute(open_age)}
    cycle_rows = {(_key(r), r.status.value): to_stats(r) for r in await session.execute(cycle)}
    return deal_rows, visit_rows, age_rows, cycle_rows


async def stage_duration(
    session: AsyncSession,
    principal: Principal,
    *,
    pipeline_id: uuid.UUID,
    window: Window,
    group_by: GroupBy | None,
    interval: Interval | None,
    engine: AsyncEngine | None = None,
) -> StageDurationReport:
    """`engine`, when given, lets the unfiltered report run its figures concurrently on
    connections of their own."""
    stages = await pipeline_stages(session, principal, pipeline_id)
    await tune(session)
    now = (await session.execute(select(func.now()))).scalar_one()
    if group_by is None and interval is None and isinstance(visible(principal, StageSummary.owner_id), True_):
        # The whole organisation's report: exact, through the duration histogram.
        figures = histogram.durations(session, engine, org=principal.org_id, pipeline_id=pipeline_id,
                                      window=window, now=now)
        leads = lead_activity.lead_first_contact(session, principal, window=window)
        if engine is not None:  # the session's connection serves the leads meanwhile
            lead, found = await asyncio.gather(leads, figures)
        else:
            lead, found = await leads, await figures
        key = (None, None)
        deal_rows = {(key, p): v for (f, p), v in found.items() if f == "deal"}
        visit_rows = {(key, p): v for (f, p), v in found.items() if f == "visit"}
        age_rows = {(None, p): v for (f, p), v in found.items() if f == "open"}
        cycle_rows = {(key, f): v for (f, _), v in found.items() if f in ("won", "lost")}
    else:
        deal_rows, visit_rows, age_rows, cycle_rows = await sorted_durations(
            session, principal, pipeline_id=pipeline_id, window=window, group_by=group_by, interval=interval, now=now)
        lead = await lead_activity.lead_first_contact(session, principal, window=window)

    keys = {k for k, _ in deal_rows} | {k for k, _ in visit_rows} | {k for k, _ in cycle_rows}
    if interval is None:
        keys |= {(g, None) for g, _ in age_rows}
    ordered = sorted(keys, key=lambda k: (k[0] or "", k[1] or dt.date.min)) or [(None, None)]
    series = [
        DurationSeries(
            group=key[0], period_start=key[1],
            stages=[
                StageDuration(
                    stage_id=st.id, name=st.name, position=st.position,
                    per_deal=deal_rows.get((key, st.id), EMPTY), per_visit=visit_rows.get((key, st.id), EMPTY),
                    open_age=age_rows.get((key[0], st.id), EMPTY),
                )
                for st in stages
            ],
            sales_cycle_won=cycle_rows.get((key, "won"), EMPTY),
            sales_cycle_lost=cycle_rows.get((key, "lost"), EMPTY),
        )
        for key in ordered
    ]
    return StageDurationReport(
        definition=DURATION_DEFINITION, pipeline_id=pipeline_id, period=window.period(), group_by=group_by,
        interval=interval, as_of=now, series=series,
        lead_first_contact=lead,
    )
