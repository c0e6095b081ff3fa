"""Accounts (companies) and contacts (people at them).

An account's customer value class (A/B/C) is written by the worker from trailing
12-month won amounts; contacts keep normalised email and phone for duplicate checks.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin


class Lifecycle(enum.StrEnum):
    prospect = "prospect"
    customer = "customer"
    churned = "churned"


class Account(IdMixin, TimestampMixin, Base):
    __tablename__ = "account"
    __table_args__ = (
        Index("ix_account_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_account_org_id_owner_id", "org_id", "owner_id"),
        Index("ix_account_org_id_name_normalized", "org_id", "name_normalized"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(300))
    # Lower-cased, legal-form suffixes (有限公司, Ltd, Inc ...) removed: duplicate checks.
    name_normalized: Mapped[str] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)  # employees
    region: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(50))
    lifecycle: Mapped[Lifecycle] = mapped_column(
        Enum(Lifecycle, name="account_lifecycle", values_callable=lambda e: [m.value for m in e]),
        server_default=text("'prospect'"),
    )
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    # Customer value (worker): A/B/C by trailing-12-month won amount, Pareto.
    value_class: Mapped[str | None] = mapped_column(String(1))
    won_amount_12m: Mapped[Decimal] = mapped_column(Numeric(18, 2), server_default=text("0"))
    value_computed_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_contact_org_id_account_id", "org_id", "account_id"),
        Index("ix_contact_org_id_email_normalized", "org_id", "email_normalized"),
        Index("ix_contact_org_id_phone_normalized", "org_id", "phone_normalized"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_normalized: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(200))
    # Set when the person's data was erased on request (privacy); the row stays for the deals.
    erased_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
