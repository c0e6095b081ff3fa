"""Response and request shapes of the analytics API. Every figure says which definition
(docs/metrics.md) it follows; rates are fractions in [0, 1] (null when nothing entered)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.analytics.models import AlertKind


class ConversionMode(enum.StrEnum):
    reached = "reached"
    strict = "strict"


class GroupBy(enum.StrEnum):
    owner = "owner"
    team = "team"
    source = "source"
    pipeline = "pipeline"


class Interval(enum.StrEnum):
    week = "week"
    month = "month"


class Period(BaseModel):
    from_date: dt.date = Field(alias="from", serialization_alias="from")
    to_date: dt.date = Field(alias="to", serialization_alias="to")
    model_config = ConfigDict(populate_by_name=True)


class FigureHeader(BaseModel):
    definition: str = Field(description="The definition used; see docs/metrics.md")
    period: Period
    group_by: GroupBy | None = None
    interval: Interval | None = None


# --- stage conversion ---------------------------------------------------------------

class StageConversion(BaseModel):
    stage_id: uuid.UUID
    name: str
    position: int
    entered: int
    advanced: int
    lost: int
    open: int
    moved: int = Field(description="Left for another pipeline before advancing (0 unless deals change pipeline)")
    conversion_rate: float | None = Field(description="advanced / entered: reached a later stage (won counts)")
    lost_rate: float | None
    open_rate: float | None
    cumulative_conversion: float | None = Field(
        description="Share of deals entering the first stage that reach this stage: the product of the "
        "next-step rates of the stages before it (1 for the first stage)")


class ConversionSeries(BaseModel):
    group: str | None = Field(description="The group's value (owner/team id, source) when grouped")
    period_start: dt.date | None = Field(description="Start of the week/month when a time series")
    stages: list[StageConversion]


class StageConversionReport(FigureHeader):
    mode: ConversionMode
    pipeline_id: uuid.UUID
    cohort: str = Field(description="Which date puts a deal in the period for a stage")
    series: list[ConversionSeries]


# --- stage duration -----------------------------------------------------------------

class DurationStats(BaseModel):
    """Durations in seconds (float, microsecond precision) over the counted items."""

    count: int
    mean_seconds: float | None
    p50_seconds: float | None
    p75_seconds: float | None
    p90_seconds: float | None


class StageDuration(BaseModel):
    stage_id: uuid.UUID
    name: str
    position: int
    per_deal: DurationStats = Field(description="All completed visits of a deal summed (deals with no open visit)")
    per_visit: DurationStats = Field(description="Each completed visit on its own")
    open_age: DurationStats = Field(description="Age in stage now, of the deals currently in it (not period-bound)")


class DurationSeries(BaseModel):
    group: str | None
    period_start: dt.date | None
    stages: list[StageDuration]
    sales_cycle_won: DurationStats
    sales_cycle_lost: DurationStats


class StageDurationReport(FigureHeader):
    pipeline_id: uuid.UUID
    as_of: dt.datetime
    series: list[DurationSeries]
    lead_first_contact: DurationStats = Field(
        description="Lead creation to first logged activity, over leads created in the period that were contacted")


# --- win rate, lost reasons, forecast, velocity, pipeline value --------------------------

class WinRateRow(BaseModel):
    group: str | None
    period_start: dt.date | None
    won: int
    lost: int
    win_rate: float | None
    won_amount: Decimal
    lost_amount: Decimal


class WinRateReport(FigureHeader):
    currency: str
    pipeline_id: uuid.UUID | None
    rows: list[WinRateRow]


class LostReasonRow(BaseModel):
    lost_reason_id: uuid.UUID | None
    reason: str | None = Field(description="null: lost without a reason")
    stage_id: uuid.UUID | None = Field(description="The stage the deal was lost from (null in the per-reason totals)")
    stage_name: str | None
    count: int
    amount: Decimal


class LostReasonsReport(FigureHeader):
    currency: str
    pipeline_id: uuid.UUID | None
    by_reason: list[LostReasonRow]
    by_stage: list[LostReasonRow]
    by_reason_and_stage: list[LostReasonRow]


class ForecastRow(BaseModel):
    group: str | None
    month: dt.date
    open_deals: int
    pipeline_amount: Decimal = Field(description="Open amount expected to close in the month")
    weighted_amount: Decimal = Field(description="closed won + open amount x stage probability")
    committed_amount: Decimal = Field(description="closed won + open amount in stages at or above commit_probability")
    best_case_amount: Decimal = Field(description="closed won + all open amount")
    closed_won_amount: Decimal


class ForecastReport(FigureHeader):
    currency: str
    pipeline_id: uuid.UUID | None
    commit_probability: Decimal
    rows: list[ForecastRow]


class VelocityRow(BaseModel):
    group: str | None
    open_deals: int
    win_rate: float | None
    average_won_amount: Decimal | None
    average_cycle_days: float | None
    velocity_per_day: Decimal | None = Field(description="open deals x win rate x average won amount / average cycle days")


class VelocityReport(FigureHeader):
    currency: str
    pipeline_id: uuid.UUID | None
    rows: list[VelocityRow]


class PipelineValueRow(BaseModel):
    group: str | None
    stage_id: uuid.UUID
    stage_name: str
    position: int
    probability: Decimal
    open_deals: int
    amount: Decimal
    weighted_amount: Decimal


class PipelineValueReport(BaseModel):
    definition: str
    as_of: dt.datetime
    currency: str
    pipeline_id: uuid.UUID
    group_by: GroupBy | None
    rows: list[PipelineValueRow]


class ScorecardStage(BaseModel):
    stage_id: uuid.UUID
    name: str
    entered: int
    advanced: int
    conversion_rate: float | None


class ScorecardRow(BaseModel):
    owner_id: uuid.UUID
    new_opportunities: int
    activities_logged: int = Field(description="Activities (calls, emails, meetings, visits...) the rep logged in the period")
    pipeline_amount: Decimal = Field(description="Open amount now")
    won_amount: Decimal
    won: int
    lost: int
    win_rate: float | None
    average_cycle_days: float | None = Field(description="Mean sales cycle of deals won in the period")
    stages: list[ScorecardStage]


class ScorecardReport(FigureHeader):
    currency: str
    pipeline_id: uuid.UUID
    rows: list[ScorecardRow]


# --- lead conversion ------------------------------------------------------------------

class LeadGroupBy(enum.StrEnum):
    source = "source"
    owner = "owner"
    campaign = "campaign"
    grade = "grade"


class LeadConversionRow(BaseModel):
    group: str | None = Field(description="The group's value (source, owner id, campaign, grade) when grouped; "
                              "null also for leads without one (unassigned, no campaign)")
    leads: int = Field(description="Leads created in the period")
    converted: int = Field(description="Of those, converted (at any time up to now)")
    disqualified: int = Field(description="Of those, disqualified now")
    conversion_rate: float | None = Field(description="converted / leads")
    median_hours_to_convert: float | None = Field(description="Creation to conversion, over the converted leads")
    p90_hours_to_convert: float | None
    won_opportunities: int = Field(description="Opportunities converted from those leads that are won now")
    won_amount: Decimal = Field(description="Their amount, in `currency`")


class LeadConversionReport(BaseModel):
    definition: str = Field(description="The definition used; see docs/metrics.md")
    period: Period
    group_by: LeadGroupBy | None = None
    currency: str
    rows: list[LeadConversionRow]


# --- alerts -------------------------------------------------------------------------

class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Proposal conversion below 30%"])
    kind: AlertKind
    pipeline_id: uuid.UUID | None = Field(default=None, description="Required for stage_conversion_below")
    stage_id: uuid.UUID | None = Field(default=None, description="Required for stage_conversion_below")
    threshold: Decimal = Field(ge=0, le=Decimal("1000000"), max_digits=12, decimal_places=4,
                               description="A rate in [0, 1] for conversion rules; a deal count for stalled rules")
    window_days: int = Field(default=30, ge=1, le=3660, description="Conversion rules: the trailing window")
    stalled_after_days: int | None = Field(default=None, ge=1, le=3660,
                                           description="Stalled rules: days in the current stage (default: the stage's SLA)")
    min_entered: int = Field(default=1, ge=1, le=1_000_000, description="Conversion rules: ignore windows with fewer deals")
    is_active: bool = True


class AlertRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    threshold: Decimal | None = Field(default=None, ge=0, le=Decimal("1000000"), max_digits=12, decimal_places=4)
    window_days: int | None = Field(default=None, ge=1, le=3660)
    stalled_after_days: int | None = Field(default=None, ge=1, le=3660)
    min_entered: int | None = Field(default=None, ge=1, le=1_000_000)
    is_active: bool | None = None


class AlertRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: AlertKind
    pipeline_id: uuid.UUID | None
    stage_id: uuid.UUID | None
    threshold: Decimal
    window_days: int
    stalled_after_days: int | None
    min_entered: int
    is_active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    subject_key: str
    owner_id: uuid.UUID | None
    subject: dict[str, str | int | float | None]
    value: Decimal
    threshold: Decimal
    triggered_at: dt.datetime
    resolved_at: dt.datetime | None
