"""Organisations (tenants), teams (a hierarchy) and users."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin


class Role(enum.StrEnum):
    admin = "admin"
    manager = "manager"
    rep = "rep"
    viewer = "viewer"


class Org(IdMixin, TimestampMixin, Base):
    __tablename__ = "org"

    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "team"
    __table_args__ = (Index("ix_team_org_id_parent_id", "org_id", "parent_id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="RESTRICT"))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL", use_alter=True)
    )
    version: Mapped[int] = mapped_column(Integer, default=1)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "user"
    __table_args__ = (
        # Email identifies the person at login, so it is unique across organisations.
        Index("uq_user_email_lower", func.lower(text("email")), unique=True),
        Index("ix_user_org_id_team_id", "org_id", "team_id"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", values_callable=lambda e: [m.value for m in e]))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    password_hash: Mapped[str | None] = mapped_column(Text)
    approval_groups: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default=text("'{}'"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_login_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
