"""Pipelines and their stages, opportunities, and the stage history.

History is two append-only tables:
- stage_transition: every move (who, when, from, to, why), never edited;
- stage_interval: one row per visit of a stage (entered_at, exited_at, exit_kind), the
  shape analytics reads (see docs/metrics.md). An open visit has exited_at NULL and
  exit_kind 'still_open'; a transition closes it and opens the next in one transaction.
Intervals snapshot the owner and team at entry, so "who does a stage well" credits the
person who held the deal then.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum


class StageKind(enum.StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class OpportunityStatus(enum.StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class ExitKind(enum.StrEnum):
    advanced = "advanced"      # moved to a stage ordered later
    regressed = "regressed"    # moved back to an earlier stage
    won = "won"
    lost = "lost"
    reopened = "reopened"      # left a won/lost stage by an explicit reopen
    moved = "moved"            # left by an explicit change of pipeline
    still_open = "still_open"  # the current visit


class TransitionKind(enum.StrEnum):
    created = "created"
    advanced = "advanced"
    regressed = "regressed"
    won = "won"
    lost = "lost"
    reopened = "reopened"
    pipeline_changed = "pipeline_changed"


class Pipeline(IdMixin, TimestampMixin, Base):
    __tablename__ = "pipeline"
    __table_args__ = (
        Index("uq_pipeline_org_id_default", "org_id", unique=True, postgresql_where=text("is_default")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    is_archived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Stage(IdMixin, TimestampMixin, Base):
    __tablename__ = "stage"
    __table_args__ = (
        Index("ix_stage_org_id_pipeline_id_position", "org_id", "pipeline_id", "position"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability_range"),
        CheckConstraint("sla_days IS NULL OR sla_days > 0", name="sla_days_positive"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Other-language names, e.g. {"zh-CN": "需求分析"}.
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[StageKind] = mapped_column(pg_enum(StageKind, "stage_kind"))
    probability: Mapped[Decimal] = mapped_column(Numeric(4, 3))
    sla_days: Mapped[int | None] = mapped_column(Integer)
    # Entry criteria, e.g. [{"type": "field_set", "field": "amount"}, ...].
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    is_retired: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class LostReason(IdMixin, TimestampMixin, Base):
    __tablename__ = "lost_reason"
    __table_args__ = (Index("uq_lost_reason_org_id_name", "org_id", "name", unique=True),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Other-language names (0010), like Stage.labels.
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Opportunity(IdMixin, TimestampMixin, Base):
    __tablename__ = "opportunity"
    __table_args__ = (
        Index("ix_opportunity_org_id_owner_id_status", "org_id", "owner_id", "status"),
        Index("ix_opportunity_org_id_pipeline_id_stage_id", "org_id", "pipeline_id", "stage_id"),
        Index("ix_opportunity_org_id_expected_close_date", "org_id", "expected_close_date"),
        Index("ix_opportunity_org_id_created_at_id", "org_id", "created_at", "id"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_non_negative"),
        # Text search on names in any language (Chinese included): trigram GIN (0010).
        Index("ix_opportunity_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        # The stalled-deal scan of the worker: open deals by time in stage (0010).
        Index("ix_opportunity_org_id_status_stage_entered_at", "org_id", "status", "stage_entered_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    # The owner's team when the owner was set: analytics group by it without a join.
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL", use_alter=True))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    stage_entered_at: Mapped[dt.datetime]
    status: Mapped[OpportunityStatus] = mapped_column(pg_enum(OpportunityStatus, "opportunity_status"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(50))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    description: Mapped[str | None] = mapped_column(Text)
    lost_reason_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lost_reason.id", ondelete="RESTRICT"))
    closed_at: Mapped[dt.datetime | None]  # won_at or lost_at, by status
    # The stage visit (entered_at) for which opportunity.stalled was last raised.
    stalled_notified_for: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Soft delete (0010): a deleted deal disappears from the API; its history stays.
    deleted_at: Mapped[dt.datetime | None]


class StageInterval(IdMixin, Base):
    __tablename__ = "stage_interval"
    __table_args__ = (
        Index("ix_stage_interval_org_id_pipeline_id_stage_id_entered_at", "org_id", "pipeline_id", "stage_id", "entered_at"),
        Index("ix_stage_interval_org_id_opportunity_id_entered_at", "org_id", "opportunity_id", "entered_at"),
        # At most one open visit per opportunity.
        Index("uq_stage_interval_open", "opportunity_id", unique=True, postgresql_where=text("exited_at IS NULL")),
        CheckConstraint("exited_at IS NULL OR exited_at >= entered_at", name="exit_after_entry"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    opportunity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    entered_at: Mapped[dt.datetime]
    exited_at: Mapped[dt.datetime | None]
    exit_kind: Mapped[ExitKind] = mapped_column(pg_enum(ExitKind, "stage_exit_kind"))


class StageTransition(IdMixin, Base):
    __tablename__ = "stage_transition"
    __table_args__ = (
        Index("ix_stage_transition_org_id_opportunity_id_occurred_at", "org_id", "opportunity_id", "occurred_at"),
        Index("uq_stage_transition_opportunity_id_seq", "opportunity_id", "seq", unique=True),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    opportunity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"))
    kind: Mapped[TransitionKind] = mapped_column(pg_enum(TransitionKind, "transition_kind"))
    from_stage_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    to_stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    from_pipeline_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    to_pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    actor_id: Mapped[uuid.UUID | None]  # a user or an API key
    occurred_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    lost_reason_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lost_reason.id", ondelete="RESTRICT"))
    # An admin override of the stage gates, with its reason, is part of the history.
    override: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    # Position in the opportunity's history chain (0010): the opportunity's version after
    # this move. Unique per opportunity, so two racing writers can never both extend it.
    seq: Mapped[int | None] = mapped_column(Integer)
