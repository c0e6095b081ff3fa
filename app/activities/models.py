"""Activities (calls, emails, meetings, visits, proposals, notes) and tasks."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum


class ActivityKind(enum.StrEnum):
    call = "call"
    email = "email"
    meeting = "meeting"
    visit = "visit"
    proposal = "proposal"
    note = "note"


class TaskStatus(enum.StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class Activity(IdMixin, TimestampMixin, Base):
    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_org_id_occurred_at_id", "org_id", "occurred_at", "id"),
        Index("ix_activity_org_id_owner_id_occurred_at", "org_id", "owner_id", "occurred_at"),
        Index("ix_activity_org_id_lead_id_occurred_at", "org_id", "lead_id", "occurred_at"),
        Index("ix_activity_org_id_account_id_occurred_at", "org_id", "account_id", "occurred_at"),
        Index("ix_activity_org_id_contact_id_occurred_at", "org_id", "contact_id", "occurred_at"),
        Index("ix_activity_org_id_opportunity_id_occurred_at", "org_id", "opportunity_id", "occurred_at"),
        CheckConstraint(
            "num_nonnulls(lead_id, account_id, contact_id, opportunity_id) >= 1", name="has_subject"
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))  # who logged it
    kind: Mapped[ActivityKind] = mapped_column(pg_enum(ActivityKind, "activity_kind"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime]
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Task(IdMixin, TimestampMixin, Base):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_org_id_assignee_id_status_due_at", "org_id", "assignee_id", "status", "due_at"),
        Index("ix_task_due_unnotified", "due_at", postgresql_where=text("status = 'open' AND due_notified_at IS NULL")),
        Index(
            "ix_task_reminder_unnotified", "remind_at",
            postgresql_where=text("status = 'open' AND reminded_at IS NULL AND remind_at IS NOT NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    assignee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    created_by: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime]
    remind_at: Mapped[dt.datetime | None]
    status: Mapped[TaskStatus] = mapped_column(pg_enum(TaskStatus, "task_status"), server_default=text("'open'"))
    completed_at: Mapped[dt.datetime | None]
    due_notified_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("opportunity.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
