"""Analytics endpoints: thin, each parses its query and calls one service function."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics import figures, lead_conversion, stages
from app.analytics.schemas import (
    ConversionMode,
    ForecastReport,
    GroupBy,
    Interval,
    LeadConversionReport,
    LeadGroupBy,
    LostReasonsReport,
    PipelineValueReport,
    ScorecardReport,
    StageConversionReport,
    StageDurationReport,
    VelocityReport,
    WinRateReport,
)
from app.analytics.scope import Window
from app.core.db import SessionDep
from app.core.timeinput import CalendarDate
from app.identity.auth import CurrentPrincipal

router = APIRouter(prefix="/analytics", tags=["analytics"])

PipelineParam = Annotated[uuid.UUID, Query(description="The pipeline whose stages are reported")]
OptionalPipeline = Annotated[uuid.UUID | None, Query(description="Only this pipeline (default: all)")]


FromParam = Annotated[CalendarDate | None, Query(alias="from", description="First day (UTC), included; default: 90 days before `to`")]
ToParam = Annotated[CalendarDate | None, Query(alias="to", description="Last day (UTC), included; default: today")]
GroupParam = Annotated[GroupBy | None, Query(description="Break the figure down by this dimension")]
IntervalParam = Annotated[Interval | None, Query(description="A time series by week (ISO, Monday) or month")]


def _window(from_date: FromParam = None, to_date: ToParam = None) -> Window:
    return Window.of(from_date, to_date)


# The report period, from the `from`/`to` query parameters (defaults and limits: Window.of).
WindowParam = Annotated[Window, Depends(_window)]


def _currency(
    request: Request,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$", description="Money figures in this ISO 4217 currency (default: the service's default currency)")] = None,
) -> str:
    return currency or request.app.state.settings.default_currency


CurrencyParam = Annotated[str, Depends(_currency)]


def parallel_engine(request: Request) -> AsyncEngine | None:
    """An engine for reads on connections besides the request's own; None when every
    session must share one connection (the test double, which has no read_engine)."""
    db = request.app.state.db
    return db.engine if getattr(db, "read_engine", None) is not None else None


@router.get("/stage-conversion", summary="Per-stage conversion of a pipeline", response_model=StageConversionReport)
async def stage_conversion(
    session: SessionDep,
    principal: CurrentPrincipal,
    pipeline_id: PipelineParam,
    window: WindowParam,
    mode: Annotated[ConversionMode, Query(description="reached (default): skipped stages count as passed; strict: only deals that went through every earlier stage")] = ConversionMode.reached,
    group_by: GroupParam = None,
    interval: IntervalParam = None,
) -> StageConversionReport:
    return await stages.stage_conversion(
        session, principal, pipeline_id=pipeline_id, window=window, mode=mode,
        group_by=group_by, interval=interval,
    )


@router.get("/stage-duration", summary="Time in each stage and sales-cycle length", response_model=StageDurationReport)
async def stage_duration(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    pipeline_id: PipelineParam,
    window: WindowParam,
    group_by: GroupParam = None,
    interval: IntervalParam = None,
) -> StageDurationReport:
    return await stages.stage_duration(
        session, principal, pipeline_id=pipeline_id, window=window, group_by=group_by,
        interval=interval, engine=parallel_engine(request),
    )


@router.get("/win-rate", summary="Win rate of the deals closed in the period", response_model=WinRateReport)
async def win_rate(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    window: WindowParam,
    pipeline_id: OptionalPipeline = None,
    group_by: GroupParam = None,
    interval: IntervalParam = None,
) -> WinRateReport:
    return await figures.win_rate(
        session, principal, pipeline_id=pipeline_id, window=window, group_by=group_by,
        interval=interval, currency=currency,
    )


@router.get("/lost-reasons", summary="Lost deals by reason and by the stage they were lost from", response_model=LostReasonsReport)
async def lost_reasons(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    window: WindowParam,
    pipeline_id: OptionalPipeline = None,
) -> LostReasonsReport:
    return await figures.lost_reasons(
        session, principal, pipeline_id=pipeline_id, window=window, currency=currency,
    )


@router.get("/forecast", summary="Weighted, committed and best-case forecast by expected-close month", response_model=ForecastReport)
async def forecast(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    window: WindowParam,
    pipeline_id: OptionalPipeline = None,
    group_by: GroupParam = None,
    commit_probability: Annotated[Decimal, Query(ge=0, le=1, max_digits=4, decimal_places=3, description="Open deals in stages at or above this probability are committed")] = Decimal("0.7"),
) -> ForecastReport:
    return await figures.forecast(
        session, principal, pipeline_id=pipeline_id, window=window, group_by=group_by,
        currency=currency, commit_probability=commit_probability,
    )


@router.get("/velocity", summary="Sales velocity", response_model=VelocityReport)
async def velocity(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    window: WindowParam,
    pipeline_id: OptionalPipeline = None,
    group_by: GroupParam = None,
) -> VelocityReport:
    return await figures.velocity(
        session, principal, pipeline_id=pipeline_id, window=window, group_by=group_by,
        currency=currency,
    )


@router.get("/pipeline-value", summary="Open pipeline value by stage, now", response_model=PipelineValueReport)
async def pipeline_value(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    pipeline_id: PipelineParam,
    group_by: GroupParam = None,
) -> PipelineValueReport:
    return await figures.pipeline_value(
        session, principal, pipeline_id=pipeline_id, group_by=group_by, currency=currency,
    )


@router.get("/scorecard", summary="Rep scorecard: each visible rep's figures for the period", response_model=ScorecardReport)
async def scorecard(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    pipeline_id: PipelineParam,
    window: WindowParam,
) -> ScorecardReport:
    return await figures.scorecard(
        session, principal, pipeline_id=pipeline_id, window=window, currency=currency,
    )


@router.get("/lead-conversion", summary="Lead-to-opportunity conversion of the leads created in the period",
            response_model=LeadConversionReport)
async def lead_conversion_report(
    session: SessionDep,
    principal: CurrentPrincipal,
    currency: CurrencyParam,
    window: WindowParam,
    group_by: Annotated[LeadGroupBy | None, Query(description="Break the figure down by the lead's source, owner, campaign or grade")] = None,
) -> LeadConversionReport:
    return await lead_conversion.lead_conversion(
        session, principal, window=window, group_by=group_by, currency=currency,
    )
