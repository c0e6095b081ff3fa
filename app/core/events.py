"""Domain events, written in the same transaction as the change they describe (outbox).

An event therefore exists if and only if its change committed. Each organisation has a
gap-free sequence: the counter row is locked by the writing transaction until it commits,
so a consumer reading `seq > last_seen` never misses an event that commits later with a
lower number. The events feed, webhooks and integrations all read from this table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.ids import new_id


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        Index("uq_event_org_id_seq", "org_id", "seq", unique=True),
        Index("ix_event_org_id_type_seq", "org_id", "type", "seq"),
        Index("ix_event_org_id_entity_id_seq", "org_id", "entity_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class OrgEventCounter(Base):
    __tablename__ = "org_event_counter"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """Money stays exact: Decimal becomes a decimal string; UUIDs and times ISO strings."""
    return orjson.loads(orjson.dumps(payload, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):  # asyncpg's UUID subclass is not native to orjson
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


async def record_event(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    type: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    payload: dict[str, Any],
    actor_id: uuid.UUID | None = None,
) -> int:
    """Append an event in the caller's transaction; returns its per-org sequence number.
    One round trip: the counter bump and the insert are a single statement."""
    bump = (
        pg_insert(OrgEventCounter)
        .values(org_id=org_id, last_seq=1)
        .on_conflict_do_update(
            index_elements=[OrgEventCounter.org_id], set_={"last_seq": OrgEventCounter.last_seq + 1}
        )
        .returning(OrgEventCounter.last_seq)
        .cte("bump")
    )
    stmt = (
        insert(Event)
        .from_select(
            ["id", "org_id", "seq", "type", "entity_type", "entity_id", "actor_id", "payload"],
            select(
                literal(new_id()),
                literal(org_id),
                bump.c.last_seq,
                literal(type),
                literal(entity_type),
                literal(entity_id, type_=Event.entity_id.type),
                literal(actor_id, type_=Event.actor_id.type),
                literal(jsonable(payload), type_=JSONB),
            ),
        )
        .returning(Event.seq)
    )
    return (await session.execute(stmt)).scalar_one()
