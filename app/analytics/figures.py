"""Deal-level figures read from the opportunity table (one row per deal): win rate, lost
reasons, forecast, velocity, pipeline value and the rep scorecard. Counts cover every
deal not deleted; money sums cover the deals in the requested currency only (no FX conversion).
Definitions: docs/metrics.md."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, and_, case, cast, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.analytics import lead_activity
from app.analytics.models import Cohort, StageRollup
from app.analytics.schemas import (
    ForecastReport,
    ForecastRow,
    GroupBy,
    Interval,
    LostReasonRow,
    LostReasonsReport,
    PipelineValueReport,
    PipelineValueRow,
    ScorecardReport,
    ScorecardRow,
    ScorecardStage,
    VelocityReport,
    VelocityRow,
    WinRateReport,
    WinRateRow,
)
from app.analytics.scope import (
    Window,
    bucket_expr,
    group_expr,
    pipeline_stages,
    rate,
    require_pipeline,
    tune,
    utc,
    visible,
)
from app.identity.principal import Principal
from app.pipelines.models import (
    LostReason,
    Opportunity,
    OpportunityStatus,
    Stage,
    StageInterval,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
WON, LOST, OPEN = OpportunityStatus.won, OpportunityStatus.lost, OpportunityStatus.open

WIN_RATE_DEFINITION = "win-rate/v1: won / (won + lost) of the deals closed (closed_at) in the period"
LOST_DEFINITION = (
    "lost-reasons/v1: deals lost (closed_at) in the period, by their lost reason and by the stage they were "
    "in when lost"
)
FORECAST_DEFINITION = (
    "forecast/v1: by expected-close month; weighted = closed won + sum(open amount x stage probability); "
    "committed = closed won + open amount in stages with probability >= commit_probability; best case = "
    "closed won + all open amount"
)
VELOCITY_DEFINITION = (
    "sales-velocity/v1: open deals now x win rate x average won amount / average sales cycle (days) of the "
    "deals won in the period; money per day"
)
PIPELINE_VALUE_DEFINITION = "pipeline-value/v1: open deals now by current stage; weighted = amount x stage probability"
SCORECARD_DEFINITION = (
    "scorecard/v1: per owner, new opportunities created in the period, open amount now, deals won/lost in the "
    "period, win rate, mean sales cycle of won deals, and per-stage conversion (reached mode)"
)

o = Opportunity
OPP_DIMENSIONS: dict[GroupBy, ColumnElement[Any]] = {
    GroupBy.owner: o.owner_id, GroupBy.team: o.team_id, GroupBy.source: o.source, GroupBy.pipeline: o.pipeline_id,
}


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _in_currency(currency: str) -> ColumnElement[bool]:
    return o.currency == currency


def _scope(principal: Principal, pipeline_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    # A deleted deal (deleted_at set) counts in no figure.
    clauses = [o.org_id == principal.org_id, o.deleted_at.is_(None), visible(principal, o.owner_id)]
    if pipeline_id is not None:
        clauses.append(o.pipeline_id == pipeline_id)
    return clauses


def _label(expr: ColumnElement[Any] | None, name: str) -> ColumnElement[Any]:
    return (expr if expr is not None else literal(None)).label(name)


def _present(*exprs: ColumnElement[Any] | None) -> list[ColumnElement[Any]]:
    return [e for e in exprs if e is not None]


def _closed_in(window: Window) -> list[ColumnElement[bool]]:
    return [o.closed_at >= window.start, o.closed_at < window.end, o.status.in_([WON, LOST])]


async def win_rate(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID | None, window: Window,
    group_by: GroupBy | None, interval: Interval | None, currency: str,
) -> WinRateReport:
    await require_pipeline(session, principal, pipeline_id)
    group = group_expr(group_by, OPP_DIMENSIONS)
    bucket = bucket_expr(interval, utc(o.closed_at))
    stmt = select(
        _label(group, "grp"), _label(bucket, "bucket"),
        func.count().filter(o.status == WON).label("won"),
        func.count().filter(o.status == LOST).label("lost"),
        func.sum(o.amount).filter(o.status == WON, _in_currency(currency)).label("won_amount"),
        func.sum(o.amount).filter(o.status == LOST, _in_currency(currency)).label("lost_amount"),
    ).where(*_scope(principal, pipeline_id), *_closed_in(window)).group_by(*_present(group, bucket))
    await tune(session)
    rows = [
        WinRateRow(group=r.grp, period_start=r.bucket, won=r.won, lost=r.lost, win_rate=rate(r.won, r.won + r.lost),
                   won_amount=_money(r.won_amount), lost_amount=_money(r.lost_amount))
        for r in await session.execute(stmt)
    ]
    rows.sort(key=lambda r: (r.group or "", r.period_start or dt.date.min))
    if not rows and group_by is None and interval is None:
        rows = [WinRateRow(group=None, period_start=None, won=0, lost=0, win_rate=None, won_amount=ZERO, lost_amount=ZERO)]
    return WinRateReport(definition=WIN_RATE_DEFINITION, period=window.period(), group_by=group_by,
                         interval=interval, currency=currency, pipeline_id=pipeline_id, rows=rows)


async def lost_reasons(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID | None, window: Window, currency: str,
) -> LostReasonsReport:
    await require_pipeline(session, principal, pipeline_id)
    i = StageInterval
    # The stage a deal was lost from: its last visit that ended by being lost.
    lost_from = (
        select(i.stage_id)
        .where(i.org_id == o.org_id, i.opportunity_id == o.id, i.exit_kind == "lost")
        .order_by(i.exited_at.desc(), i.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    deals = select(
        o.lost_reason_id.label("reason_id"), lost_from.label("stage_id"),
        case((_in_currency(currency), o.amount), else_=None).label("amount"),
    ).where(*_scope(principal, pipeline_id), *_closed_in(window), o.status == LOST).subquery()
    stmt = (
        select(
            deals.c.reason_id, LostReason.name.label("reason"), deals.c.stage_id, Stage.name.label("stage_name"),
            func.count().label("n"), func.sum(deals.c.amount).label("amount"),
        )
        .select_from(deals)
        .outerjoin(LostReason, and_(LostReason.id == deals.c.reason_id, LostReason.org_id == principal.org_id))
        .outerjoin(Stage, and_(Stage.id == deals.c.stage_id, Stage.org_id == principal.org_id))
        .group_by(deals.c.reason_id, LostReason.name, deals.c.stage_id, Stage.name)
    )
    await tune(session)
    pairs = list(await session.execute(stmt))
    by_reason: dict[Any, list[Any]] = defaultdict(lambda: [None, 0, Decimal(0)])
    by_stage: dict[Any, list[Any]] = defaultdict(lambda: [None, 0, Decimal(0)])
    for r in pairs:
        for bucket, key, name in ((by_reason, r.reason_id, r.reason), (by_stage, r.stage_id, r.stage_name)):
            entry = bucket[key]
            entry[0], entry[1], entry[2] = name, entry[1] + r.n, entry[2] + (r.amount or 0)

    def order(row: LostReasonRow) -> tuple[int, str, str]:
        return (-row.count, row.reason or "", row.stage_name or "")

    return LostReasonsReport(
        definition=LOST_DEFINITION, period=window.period(), currency=currency, pipeline_id=pipeline_id,
        by_reason=sorted((LostReasonRow(lost_reason_id=k, reason=v[0], stage_id=None, stage_name=None, count=v[1],
                                        amount=_money(v[2])) for k, v in by_reason.items()), key=order),
        by_stage=sorted((LostReasonRow(lost_reason_id=None, reason=None, stage_id=k, stage_name=v[0], count=v[1],
                                       amount=_money(v[2])) for k, v in by_stage.items()), key=order),
        by_reason_and_stage=sorted((LostReasonRow(lost_reason_id=r.reason_id, reason=r.reason, stage_id=r.stage_id,
                                                  stage_name=r.stage_name, count=r.n, amount=_money(r.amount))
                                    for r in pairs), key=order),
    )


async def forecast(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID | None, window: Window,
    group_by: GroupBy | None, currency: str, commit_probability: Decimal,
) -> ForecastReport:
    await require_pipeline(session, principal, pipeline_id)
    group = group_expr(group_by, OPP_DIMENSIONS)
    month = cast(func.date_trunc("month", o.expected_close_date), Date)
    money = _in_currency(currency)
    open_stmt = (
        select(
            _label(group, "grp"), month.label("month"), func.count().label("n"),
            func.sum(o.amount).filter(money).label("amount"),
            func.sum(o.amount * Stage.probability).filter(money).label("weighted"),
            func.sum(o.amount).filter(money, Stage.probability >= commit_probability).label("committed"),
        )
        .join(Stage, and_(Stage.id == o.stage_id, Stage.org_id == o.org_id))
        .where(*_scope(principal, pipeline_id), o.status == OPEN,
               o.expected_close_date >= window.from_date, o.expected_close_date <= window.to_date)
        .group_by(*_present(group), month)
    )
    won_month = cast(func.date_trunc("month", utc(o.closed_at)), Date)
    won_stmt = (
        select(_label(group, "grp"), won_month.label("month"), func.sum(o.amount).filter(money).label("amount"))
        .where(*_scope(principal, pipeline_id), o.status == WON, o.closed_at >= window.start, o.closed_at < window.end)
        .group_by(*_present(group), won_month)
    )
    await tune(session)
    cells: dict[tuple[str | None, dt.date], dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "amount": 0, "weighted": 0, "committed": 0, "won": 0})
    for r in await session.execute(open_stmt):
        cell = cells[(r.grp, r.month)]
        cell.update(n=r.n, amount=r.amount or 0, weighted=r.weighted or 0, committed=r.committed or 0)
    for r in await session.execute(won_stmt):
        cells[(r.grp, r.month)]["won"] = r.amount or 0
    rows = [
        ForecastRow(
            group=key[0], month=key[1], open_deals=c["n"], pipeline_amount=_money(c["amount"]),
            weighted_amount=_money(c["won"] + c["weighted"]), committed_amount=_money(c["won"] + c["committed"]),
            best_case_amount=_money(c["won"] + c["amount"]), closed_won_amount=_money(c["won"]),
        )
        for key, c in sorted(cells.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
    ]
    return ForecastReport(definition=FORECAST_DEFINITION, period=window.period(), group_by=group_by, currency=currency,
                          pipeline_id=pipeline_id, commit_probability=commit_probability, rows=rows)


async def velocity(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID | None, window: Window,
    group_by: GroupBy | None, currency: str,
) -> VelocityReport:
    await require_pipeline(session, principal, pipeline_id)
    group = group_expr(group_by, OPP_DIMENSIONS)
    money = _in_currency(currency)
    open_stmt = select(_label(group, "grp"), func.count().label("n")).where(
        *_scope(principal, pipeline_id), o.status == OPEN).group_by(*_present(group))
    closed_stmt = select(
        _label(group, "grp"),
        func.count().filter(o.status == WON).label("won"), func.count().filter(o.status == LOST).label("lost"),
        func.avg(o.amount).filter(o.status == WON, money).label("avg_won"),
        func.avg(extract("epoch", o.closed_at - o.created_at) / 86400).filter(o.status == WON).label("cycle_days"),
    ).where(*_scope(principal, pipeline_id), *_closed_in(window)).group_by(*_present(group))
    await tune(session)
    open_counts = {r.grp: r.n for r in await session.execute(open_stmt)}
    closed = {r.grp: r for r in await session.execute(closed_stmt)}
    rows = []
    for key in sorted(set(open_counts) | set(closed) or {None}, key=lambda k: k or ""):
        n = open_counts.get(key, 0)
        c = closed.get(key)
        wr = rate(c.won, c.won + c.lost) if c else None
        avg_won = _money(c.avg_won) if c and c.avg_won is not None else None
        cycle = float(c.cycle_days) if c and c.cycle_days is not None else None
        value = None
        if wr is not None and avg_won is not None and cycle:
            value = (Decimal(n) * Decimal(str(wr)) * avg_won / Decimal(str(cycle))).quantize(CENT)
        rows.append(VelocityRow(group=key, open_deals=n, win_rate=wr, average_won_amount=avg_won,
                                average_cycle_days=round(cycle, 6) if cycle is not None else None, velocity_per_day=value))
    return VelocityReport(definition=VELOCITY_DEFINITION, period=window.period(), group_by=group_by,
                          currency=currency, pipeline_id=pipeline_id, rows=rows)


async def pipeline_value(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID, group_by: GroupBy | None, currency: str,
) -> PipelineValueReport:
    stages = await pipeline_stages(session, principal, pipeline_id)
    group = group_expr(group_by, OPP_DIMENSIONS)
    money = _in_currency(currency)
    stmt = (
        select(
            o.stage_id, _label(group, "grp"), func.count().label("n"), func.sum(o.amount).filter(money).label("amount"),
            func.sum(o.amount * Stage.probability).filter(money).label("weighted"),
        )
        .join(Stage, and_(Stage.id == o.stage_id, Stage.org_id == o.org_id))
        .where(*_scope(principal, pipeline_id), o.status == OPEN)
        .group_by(o.stage_id, *_present(group))
    )
    await tune(session)
    now = (await session.execute(select(func.now()))).scalar_one()
    found = {(r.grp, r.stage_id): r for r in await session.execute(stmt)}
    groups = sorted({g for g, _ in found} or {None}, key=lambda g: g or "")
    rows = []
    for g in groups:
        for st in stages:
            r = found.get((g, st.id))
            rows.append(PipelineValueRow(
                group=g, stage_id=st.id, stage_name=st.name, position=st.position, probability=st.probability,
                open_deals=r.n if r else 0, amount=_money(r.amount if r else 0), weighted_amount=_money(r.weighted if r else 0),
            ))
    return PipelineValueReport(definition=PIPELINE_VALUE_DEFINITION, as_of=now, currency=currency,
                               pipeline_id=pipeline_id, group_by=group_by, rows=rows)


async def scorecard(
    session: AsyncSession, principal: Principal, *, pipeline_id: uuid.UUID, window: Window, currency: str,
) -> ScorecardReport:
    stages = await pipeline_stages(session, principal, pipeline_id)
    money = _in_currency(currency)
    scope = _scope(principal, pipeline_id)
    created = select(o.owner_id, func.count().label("n")).where(
        *scope, o.created_at >= window.start, o.created_at < window.end).group_by(o.owner_id)
    open_amount = select(o.owner_id, func.sum(o.amount).filter(money).label("amount")).where(
        *scope, o.status == OPEN).group_by(o.owner_id)
    closed = select(
        o.owner_id, func.count().filter(o.status == WON).label("won"), func.count().filter(o.status == LOST).label("lost"),
        func.sum(o.amount).filter(o.status == WON, money).label("won_amount"),
        func.avg(extract("epoch", o.closed_at - o.created_at) / 86400).filter(o.status == WON).label("cycle_days"),
    ).where(*scope, *_closed_in(window)).group_by(o.owner_id)
    r = StageRollup
    conversion = select(
        r.owner_id, r.stage_id, func.sum(r.entered).label("entered"), func.sum(r.advanced).label("advanced"),
    ).where(
        r.org_id == principal.org_id, r.pipeline_id == pipeline_id, r.cohort == Cohort.reached,
        r.day >= window.from_date, r.day <= window.to_date, visible(principal, r.owner_id),
    ).group_by(r.owner_id, r.stage_id)
    await tune(session)
    new = {x.owner_id: x.n for x in await session.execute(created)}
    pipe = {x.owner_id: x.amount for x in await session.execute(open_amount)}
    done = {x.owner_id: x for x in await session.execute(closed)}
    conv: dict[uuid.UUID, dict[uuid.UUID, Any]] = defaultdict(dict)
    for x in await session.execute(conversion):
        conv[x.owner_id][x.stage_id] = x
    owners = sorted(set(new) | set(pipe) | set(done) | set(conv), key=str)
    activities = await lead_activity.activities_logged(session, principal, window=window, owner_ids=owners)
    rows = []
    for owner in owners:
        c = done.get(owner)
        won, lost = (c.won, c.lost) if c else (0, 0)
        rows.append(ScorecardRow(
            owner_id=owner, new_opportunities=new.get(owner, 0),
            activities_logged=activities.get(owner, 0),
            pipeline_amount=_money(pipe.get(owner)), won_amount=_money(c.won_amount if c else 0), won=won, lost=lost,
            win_rate=rate(won, won + lost),
            average_cycle_days=round(float(c.cycle_days), 6) if c and c.cycle_days is not None else None,
            stages=[
                ScorecardStage(
                    stage_id=st.id, name=st.name,
                    entered=int(conv[owner][st.id].entered) if st.id in conv[owner] else 0,
                    advanced=int(conv[owner][st.id].advanced) if st.id in conv[owner] else 0,
                    conversion_rate=rate(int(conv[owner][st.id].advanced), int(conv[owner][st.id].entered))
                    if st.id in conv[owner] else None,
                )
                for st in stages
            ],
        ))
    return ScorecardReport(definition=SCORECARD_DEFINITION, period=window.period(), currency=currency,
                           pipeline_id=pipeline_id, rows=rows)
