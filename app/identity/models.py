"""Organisations (tenants), teams (a hierarchy) and users."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
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


class RefreshToken(Base):
    """One issued refresh token (the JWT's `jti` is this row's id). Rotation marks it used
    and issues the next one in the same family; presenting a used token again means it
    was stolen, so the whole family is revoked (reuse detection)."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        Index("ix_refresh_token_org_id_user_id", "org_id", "user_id"),
        Index("ix_refresh_token_family_id", "family_id"),
        Index("ix_refresh_token_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID]
    issued_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    replaced_by_id: Mapped[uuid.UUID | None]
    user_agent: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))


class ApiKey(IdMixin, TimestampMixin, Base):
    """An integration's credential. Only the SHA-256 of the key is stored (the key has
    >= 128 random bits, so a fast hash is enough); `prefix` finds the row and is shown
    in listings so people can tell keys apart."""

    __tablename__ = "api_key"
    __table_args__ = (
        Index("ix_api_key_org_id_created_at", "org_id", "created_at"),
        Index("ix_api_key_prefix", "prefix"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class LoginThrottle(Base):
    """Failed-login counters per account and per client address, in a fixed window.
    Written in its own transaction so the count survives the failed request's rollback.
    Not tenant data: a login happens before the organisation is known."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "account:<sha256>" / "address:<ip>"
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[dt.datetime]
    last_failure_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
