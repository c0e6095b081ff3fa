"""Leads, their scoring and assignment rules, per-org lead settings, and bulk imports."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum


class LeadStatus(enum.StrEnum):
    new = "new"
    contacted = "contacted"
    qualified = "qualified"
    disqualified = "disqualified"
    converted = "converted"


class LeadSource(enum.StrEnum):
    web_form = "web_form"
    social = "social"
    event = "event"
    visit = "visit"
    hotline = "hotline"
    referral = "referral"
    import_ = "import"
    api = "api"
    other = "other"


class ImportKind(enum.StrEnum):
    """What an import job (table lead_import, named before it held other kinds) creates."""
    leads = "leads"
    accounts = "accounts"
    contacts = "contacts"


class ImportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"


class Lead(IdMixin, TimestampMixin, Base):
    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_lead_org_id_owner_id_status", "org_id", "owner_id", "status"),
        Index("ix_lead_org_id_email_normalized", "org_id", "email_normalized"),
        Index("ix_lead_org_id_phone_normalized", "org_id", "phone_normalized"),
        Index("ix_lead_org_id_company_normalized", "org_id", "company_normalized"),
        # Deletes check for leads merged into the deleted one (only merged leads indexed).
        Index("ix_lead_merged_into_id", "merged_into_id", postgresql_where=text("merged_into_id IS NOT NULL")),
        # The account timeline: the leads converted into an account (only converted ones indexed).
        Index("ix_lead_org_id_converted_account_id", "org_id", "converted_account_id",
              postgresql_where=text("converted_account_id IS NOT NULL")),
        # The response-overdue job scans only leads still waiting for a first contact.
        Index(
            "ix_lead_awaiting_response", "created_at",
            postgresql_where=text("first_response_at IS NULL AND response_overdue_at IS NULL AND status = 'new'"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    # NULL: in the organisation's unassigned queue.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_normalized: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    company_normalized: Mapped[str | None] = mapped_column(String(300))
    company_size: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(100))
    product_interest: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30))
    campaign: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[LeadStatus] = mapped_column(pg_enum(LeadStatus, "lead_status"), server_default=text("'new'"))
    disqualify_reason: Mapped[str | None] = mapped_column(Text)
    score: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    grade: Mapped[str] = mapped_column(String(1), server_default=text("'D'"))
    # [{"rule_id", "name", "points", "condition"}] of the rules that matched.
    score_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    assigned_by_rule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lead_assignment_rule.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    response_overdue_at: Mapped[dt.datetime | None]  # when lead.response_overdue was raised
    converted_at: Mapped[dt.datetime | None]
    converted_opportunity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("opportunity.id", ondelete="SET NULL")
    )
    converted_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    converted_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    # A lead merged into another stays readable (history) but leaves the lists.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    # Provenance tag, deliberately without a foreign key: the RI check per row was a third
    # of a bulk import's insert time (bench/README.md), and imports are never deleted.
    import_id: Mapped[uuid.UUID | None]
    erased_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class LeadSettings(Base):
    __tablename__ = "lead_settings"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    # Minimum score for each grade; below C is D.
    grade_a_min: Mapped[int] = mapped_column(Integer, server_default=text("80"))
    grade_b_min: Mapped[int] = mapped_column(Integer, server_default=text("50"))
    grade_c_min: Mapped[int] = mapped_column(Integer, server_default=text("20"))
    response_target_minutes: Mapped[int] = mapped_column(Integer, server_default=text("60"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class ScoringRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "lead_scoring_rule"
    __table_args__ = (Index("ix_lead_scoring_rule_org_id_position", "org_id", "position"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(50))
    operator: Mapped[str] = mapped_column(String(20))
    value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    points: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class AssignmentRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "lead_assignment_rule"
    __table_args__ = (Index("ix_lead_assignment_rule_org_id_position", "org_id", "position"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # All must hold: [{"field": "source", "operator": "eq", "value": "referral"}, ...].
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    target_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    # Round-robin position: the member who got the last lead (locked while choosing).
    last_assigned_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class LeadImport(IdMixin, TimestampMixin, Base):
    __tablename__ = "lead_import"
    __table_args__ = (
        Index("ix_lead_import_org_id_kind_created_at_id", "org_id", "kind", "created_at", "id"),
        Index("ix_lead_import_queued", "created_at", postgresql_where=text("status = 'queued'")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    kind: Mapped[ImportKind] = mapped_column(pg_enum(ImportKind, "import_kind"), server_default=text("'leads'"))
    created_by: Mapped[uuid.UUID | None]
    filename: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[ImportStatus] = mapped_column(pg_enum(ImportStatus, "lead_import_status"))
    skip_duplicates: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    default_source: Mapped[str] = mapped_column(String(30), server_default=text("'import'"))
    # The uploaded CSV, kept until processed so any worker can take the job.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    total_rows: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    duplicate_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failure: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class LeadImportError(Base):
    __tablename__ = "lead_import_error"

    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead_import.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    duplicate_of: Mapped[uuid.UUID | None]
