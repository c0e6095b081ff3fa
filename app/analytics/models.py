"""Analytics tables: the exact pre-aggregation of the stage history, and alerting.

`stage_summary` holds one row per (opportunity, open stage it reached) and `stage_rollup`
daily counts of those rows. Both are derived data, written only by PostgreSQL triggers
(migration 0012) in the same transaction as the stage_interval / opportunity / stage
change they summarise, so every writer (the pipelines service, imports, bulk COPY) keeps
them exact. The API never writes them. See docs/metrics.md for the definitions.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum
from app.pipelines.models import Opportunity, StageInterval


class Outcome(enum.StrEnum):
    """What became of a deal that reached a stage (the three-way split, plus `moved`
    for deals that changed pipeline before advancing)."""

    advanced = "advanced"
    lost = "lost"
    open = "open"
    moved = "moved"


class Cohort(enum.StrEnum):
    reached = "reached"  # dated by the first reach of the stage (or of any later one)
    strict = "strict"    # dated by the first entry into the stage itself


class StageSummary(Base):
    """One row per (opportunity, open stage reached). Maintained by triggers only."""

    __tablename__ = "stage_summary"
    __table_args__ = (
        # Duration cohorts (by first entry) with everything the figures read: index-only scans.
        Index(
            "ix_stage_summary_org_id_pipeline_id_first_entered_at",
            "org_id", "pipeline_id", "first_entered_at",
            postgresql_include=["stage_id", "owner_id", "team_id", "source", "visits", "completed_visits", "completed_seconds"],
            postgresql_where=text("first_entered_at IS NOT NULL"),
        ),
        # Current age in stage: only the open visits, in entry order (0013).
        Index(
            "ix_stage_summary_org_id_pipeline_id_stage_id_open_entered_at",
            "org_id", "pipeline_id", "stage_id", "open_entered_at",
            postgresql_include=["owner_id", "team_id", "source"],
            postgresql_where=text("open_entered_at IS NOT NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    opportunity_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pipeline_id: Mapped[uuid.UUID]
    # Snapshot of who held the deal on reaching the stage (from stage_interval).
    owner_id: Mapped[uuid.UUID]
    team_id: Mapped[uuid.UUID | None]
    source: Mapped[str | None] = mapped_column(String(50))
    reached_at: Mapped[dt.datetime]
    outcome: Mapped[Outcome] = mapped_column(pg_enum(Outcome, "analytics_outcome"))
    # Set only when the deal passed through every earlier open stage before entering this one.
    strict_entered_at: Mapped[dt.datetime | None]
    strict_outcome: Mapped[Outcome | None] = mapped_column(pg_enum(Outcome, "analytics_outcome"))
    first_entered_at: Mapped[dt.datetime | None]  # NULL: reached by skipping the stage
    visits: Mapped[int] = mapped_column(Integer)
    completed_visits: Mapped[int] = mapped_column(Integer)
    completed_seconds: Mapped[float] = mapped_column(Double)
    open_entered_at: Mapped[dt.datetime | None]


class StageRollup(Base):
    """Daily counts of stage_summary rows by cohort date and every breakdown dimension.
    Maintained by triggers on stage_summary; one row per key (NULLs compare equal)."""

    __tablename__ = "stage_rollup"
    __table_args__ = (
        Index(
            "uq_stage_rollup_key",
            "org_id", "pipeline_id", "cohort", "day", "stage_id", "owner_id", "team_id", "source",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID]
    cohort: Mapped[Cohort] = mapped_column(pg_enum(Cohort, "analytics_cohort"))
    day: Mapped[dt.date] = mapped_column(Date)
    stage_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    team_id: Mapped[uuid.UUID | None]
    source: Mapped[str | None] = mapped_column(String(50))
    entered: Mapped[int] = mapped_column(BigInteger)
    advanced: Mapped[int] = mapped_column(BigInteger)
    lost: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[int] = mapped_column(BigInteger)
    moved: Mapped[int] = mapped_column(BigInteger)


class DurationFigure(enum.StrEnum):
    visit = "visit"  # a completed visit, by entry day
    deal = "deal"    # a deal's completed visits of a stage summed, by first entry day
    open = "open"    # an open visit, by entry day (bucket 0: the entry orders the ages)
    won = "won"      # a won deal's sales cycle, by close day (no stage)
    lost = "lost"


class DurationHistogram(Base):
    """Count and exact sum of each duration figure's values per (stage, UTC day,
    log-duration bucket). Maintained by triggers only (migration 0013)."""

    __tablename__ = "duration_histogram"
    __table_args__ = (
        Index(
            "uq_duration_histogram_key",
            "org_id", "pipeline_id", "figure", "day", "stage_id", "bucket",
            unique=True, postgresql_nulls_not_distinct=True, postgresql_include=["n", "total"],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID]
    figure: Mapped[DurationFigure] = mapped_column(pg_enum(DurationFigure, "duration_figure"))
    day: Mapped[dt.date] = mapped_column(Date)
    stage_id: Mapped[uuid.UUID | None]
    bucket: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[Decimal] = mapped_column(Numeric)


class AlertKind(enum.StrEnum):
    stage_conversion_below = "stage_conversion_below"
    stalled_deals_above = "stalled_deals_above"


class AlertRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "alert_rule"
    __table_args__ = (Index("ix_alert_rule_org_id_created_at_id", "org_id", "created_at", "id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AlertKind] = mapped_column(pg_enum(AlertKind, "alert_kind"))
    pipeline_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    stage_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stage.id", ondelete="CASCADE"))
    # Conversion rules: a rate in [0, 1]; stalled rules: a count of deals.
    threshold: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    window_days: Mapped[int] = mapped_column(Integer, server_default=text("30"))
    stalled_after_days: Mapped[int | None] = mapped_column(Integer)
    min_entered: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_by: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Alert(IdMixin, Base):
    """One breach of a rule for one subject (a stage, or a rep). Open while the breach
    lasts; a new row (and a new alert.triggered event) only after it resolved."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_org_id_triggered_at_id", "org_id", "triggered_at", "id"),
        Index("uq_alert_rule_id_subject_key_open", "rule_id", "subject_key", unique=True,
              postgresql_where=text("resolved_at IS NULL")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    subject_key: Mapped[str] = mapped_column(String(100))
    # The rep concerned (stalled-deal rules); NULL for org-level subjects like a stage.
    owner_id: Mapped[uuid.UUID | None]
    subject: Mapped[dict[str, Any]] = mapped_column(JSONB)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    threshold: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    triggered_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]


# Win rate, lost reasons and sales cycle read closed deals by close date (added by 0012).
_opportunity = Opportunity.__table__
Index(
    "ix_opportunity_org_id_closed_at", _opportunity.c.org_id, _opportunity.c.closed_at,
    postgresql_where=text("closed_at IS NOT NULL"),
)

# Per-visit durations: completed visits by entry time, covering what the figure reads.
_interval = StageInterval.__table__
Index(
    "ix_stage_interval_org_id_pipeline_id_entered_at_done",
    _interval.c.org_id, _interval.c.pipeline_id, _interval.c.entered_at,
    postgresql_include=["stage_id", "exited_at", "owner_id", "team_id"],
    postgresql_where=text("exited_at IS NOT NULL"),
)

# One duration bucket's values of a period (0013): the histogram locates the bucket that
# holds a percentile, these read just that bucket.
Index(
    "ix_stage_interval_duration_bucket",
    _interval.c.org_id, _interval.c.pipeline_id, _interval.c.stage_id,
    text("analytics_span_bucket(entered_at, exited_at)"), _interval.c.entered_at,
    postgresql_include=["exited_at"],
    postgresql_where=text("exited_at IS NOT NULL"),
)
Index(
    "ix_opportunity_cycle_bucket",
    _opportunity.c.org_id, _opportunity.c.pipeline_id, _opportunity.c.status,
    text("analytics_span_bucket(created_at, closed_at)"), _opportunity.c.closed_at,
    postgresql_include=["created_at"],
    postgresql_where=text("closed_at IS NOT NULL AND status IN ('won', 'lost')"),
)
_summary = StageSummary.__table__
Index(
    "ix_stage_summary_deal_duration_bucket",
    _summary.c.org_id, _summary.c.pipeline_id, _summary.c.stage_id,
    text("analytics_duration_bucket(completed_seconds)"), _summary.c.first_entered_at,
    postgresql_include=["completed_seconds"],
    postgresql_where=text("first_entered_at IS NOT NULL AND completed_visits = visits"),
)
