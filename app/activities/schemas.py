"""Request and response bodies of the activities and tasks API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from app.activities.models import ActivityKind, TaskStatus
from app.core.timeinput import AwareDateTime as IsoDateTime
from app.leads.types import Body, text


class Subjects(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None


class ActivityCreate(Subjects):
    kind: ActivityKind = Field(examples=["call"])
    subject: text(300, 1) = Field(examples=["首次电话沟通 / first call"])  # type: ignore[valid-type]
    body: Body | None = None
    occurred_at: IsoDateTime | None = Field(default=None, description="Default: now")
    duration_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _has_subject(self) -> ActivityCreate:
        if not (self.lead_id or self.account_id or self.contact_id or self.opportunity_id):
            raise ValueError("log the activity against a lead, account, contact or opportunity")
        return self


class ActivityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: text(300, 1) | None = None  # type: ignore[valid-type]
    body: Body | None = None
    occurred_at: IsoDateTime | None = None
    duration_minutes: StrictInt | None = Field(default=None, ge=0, le=24 * 60)


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: ActivityKind
    subject: str
    body: str | None
    occurred_at: dt.datetime
    duration_minutes: int | None
    lead_id: uuid.UUID | None
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    version: int
    created_at: dt.datetime


class TaskCreate(Subjects):
    title: text(300, 1) = Field(examples=["Send the quotation 发送报价"])  # type: ignore[valid-type]
    description: Body | None = None
    due_at: IsoDateTime
    remind_at: IsoDateTime | None = None
    assignee_id: uuid.UUID | None = Field(default=None, description="Default: the caller")

    @model_validator(mode="after")
    def _remind_before_due(self) -> TaskCreate:
        if self.remind_at and self.remind_at > self.due_at:
            raise ValueError("remind_at must not be after due_at")
        return self


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: text(300, 1) | None = None  # type: ignore[valid-type]
    description: Body | None = None
    due_at: IsoDateTime | None = None
    remind_at: IsoDateTime | None = None
    assignee_id: uuid.UUID | None = None
    status: TaskStatus | None = None


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    assignee_id: uuid.UUID
    created_by: uuid.UUID | None
    title: str
    description: str | None
    due_at: dt.datetime
    remind_at: dt.datetime | None
    status: TaskStatus
    completed_at: dt.datetime | None
    lead_id: uuid.UUID | None
    account_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    version: int
    created_at: dt.datetime
