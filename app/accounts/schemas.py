"""Request and response bodies of the accounts and contacts API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.accounts.models import Lifecycle
from app.leads.types import Body, LongText, Name, ShortText, text


class AccountFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    industry: Name | None = Field(default=None, examples=["Machinery 机械"])
    size: StrictInt | None = Field(default=None, ge=0, le=10_000_000, examples=[1200])
    region: Name | None = Field(default=None, examples=["East China"])
    tier: text(50) | None = Field(default=None, examples=["strategic"])  # type: ignore[valid-type]
    lifecycle: Lifecycle | None = None
    website: LongText | None = None
    description: Body | None = None


class AccountCreate(AccountFields):
    name: text(300, 1) = Field(examples=["上海华东机械有限公司"])  # type: ignore[valid-type]
    owner_id: uuid.UUID | None = Field(default=None, description="Default: the caller")


class AccountUpdate(AccountFields):
    name: text(300, 1) | None = None  # type: ignore[valid-type]
    owner_id: uuid.UUID | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    industry: str | None
    size: int | None
    region: str | None
    tier: str | None
    lifecycle: Lifecycle
    website: str | None
    description: str | None
    value_class: str | None = Field(description="A/B/C by trailing-12-month won amount (Pareto), set by the worker")
    won_amount_12m: Decimal
    value_computed_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID | None = None
    first_name: Name | None = Field(default=None, examples=["伟"])
    email: text(320) | None = Field(default=None, examples=["zhang.wei@example.cn"])  # type: ignore[valid-type]
    phone: text(50) | None = Field(default=None, examples=["+86 138 0013 8000"])  # type: ignore[valid-type]
    title: ShortText | None = None


class ContactCreate(ContactFields):
    last_name: text(100, 1) = Field(examples=["张"])  # type: ignore[valid-type]
    owner_id: uuid.UUID | None = None


class ContactUpdate(ContactFields):
    last_name: text(100, 1) | None = None  # type: ignore[valid-type]
    owner_id: uuid.UUID | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    owner_id: uuid.UUID
    account_id: uuid.UUID | None
    first_name: str | None
    last_name: str
    email: str | None
    phone: str | None
    phone_normalized: str | None
    title: str | None
    erased_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TimelineEntry(BaseModel):
    kind: Literal["activity", "lead_converted", "opportunity_created", "stage_changed"]
    occurred_at: dt.datetime
    id: uuid.UUID = Field(description="The activity, lead, opportunity or stage transition id")
    opportunity_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    title: str
    detail: dict[str, Any]
