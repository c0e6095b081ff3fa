"""The audit trail: who changed what, when, with each changed field's before and after.

Written by services in the same transaction as the change (like events), one row per
create, update, state change or delete of a business record. Read by
`GET /v1/audit-log` (admins and managers).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Enum, ForeignKey, Index, String, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.events import jsonable
from app.core.ids import new_id

if TYPE_CHECKING:
    from app.identity.principal import Principal


class AuditAction(enum.StrEnum):
    create = "create"
    update = "update"
    state_change = "state_change"
    delete = "delete"


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_org_id_occurred_at", "org_id", "occurred_at"),
        Index("ix_audit_entry_org_id_entity_id_occurred_at", "org_id", "entity_id", "occurred_at"),
        Index("ix_audit_entry_org_id_actor_id_occurred_at", "org_id", "actor_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None]
    actor_kind: Mapped[str] = mapped_column(String(20))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[uuid.UUID]
    action: Mapped[AuditAction] = mapped_column(
        Enum(AuditAction, name="audit_action", values_callable=lambda e: [m.value for m in e])
    )
    # {"field": {"before": ..., "after": ...}}; for create only "after", for delete only "before".
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose values differ, as {"field": {"before": b, "after": a}}."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


async def record_audit(
    session: AsyncSession,
    principal: Principal,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    action: AuditAction,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append an audit row in the caller's transaction. Pass plain field dicts; only the
    fields that changed are kept (all of them for create and delete)."""
    changes = diff(before or {}, after or {})
    if action is AuditAction.update and not changes:
        return
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await session.execute(
        insert(AuditEntry).values(
            id=new_id(),
            org_id=principal.org_id,
            actor_id=principal.actor_id,
            actor_kind=principal.kind,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=jsonable(changes),
            request_id=request_id,
        )
    )
