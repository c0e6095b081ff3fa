from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field

from app.core.audit import AuditAction


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    occurred_at: dt.datetime
    actor_id: uuid.UUID | None = Field(description="The user or API key that acted; null for system actions")
    actor_kind: str = Field(examples=["user"])
    entity_type: str = Field(examples=["opportunity"])
    entity_id: uuid.UUID
    action: AuditAction
    changes: dict[str, Any] = Field(
        description="{field: {before, after}}; only `after` on create, only `before` on delete",
        examples=[{"role": {"before": "rep", "after": "manager"}}],
    )
    request_id: str | None


class EventOut(BaseModel):
    seq: int = Field(description="Gap-free per organisation; poll with after_seq = the last one you saw")
    id: uuid.UUID
    type: str = Field(examples=["user.created"])
    entity_type: str
    entity_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    payload: dict[str, Any]
    created_at: dt.datetime


class EventPage(BaseModel):
    items: list[EventOut]
    next_after_seq: int = Field(description="Pass as `after_seq` next time (unchanged when there was nothing new)")
    has_more: bool = Field(description="More events are ready now; poll again at once")
