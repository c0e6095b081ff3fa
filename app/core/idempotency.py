"""Idempotency-Key for POST: a client retrying after a timeout gets the first response
back instead of a second side effect (mobile networks drop responses all the time).

How it stays exact:
- The key's record is inserted in the request's own transaction, so it commits if and
  only if the change commits. A concurrent duplicate blocks on the unique index until the
  first request finishes, then sees its record.
- The response is captured by RequestContextMiddleware after it is sent and stored in a
  short second transaction. If the process dies in between, the change is still never
  applied twice; the retry gets 409 `idempotency-response-unavailable`.
- A key reused with a different body is refused (422); keys are scoped to the principal
  and kept for 24 hours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Database, SessionDep
from app.core.errors import Conflict, Unprocessable
from app.core.ids import new_id

RETENTION = dt.timedelta(hours=24)
STATE_KEY = "idempotency_record_id"
REPLAYED_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = {"content-type", "etag", "location"}


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (
        Index("uq_idempotency_record_org_id_principal_key_key", "org_id", "principal_key", "key", unique=True),
        Index("ix_idempotency_record_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    principal_key: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())



class IdempotencyKeyReused(Unprocessable):
    code, title = "idempotency-key-reused", "Idempotency-Key reused with a different request"


class IdempotencyResponseUnavailable(Conflict):
    code, title = "idempotency-response-unavailable", "The original request completed; its response is not available"


class Replay(Exception):
    """Raised by the guard to answer with the stored response (nothing else runs).
    Carries plain values: the request's rollback expires the ORM record."""

    def __init__(self, record: IdempotencyRecord) -> None:
        self.status_code = record.status_code or 200
        self.headers = dict(record.response_headers or {})
        self.body = record.response_body or b""


async def replay_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    headers = {**exc.headers, REPLAYED_HEADER: "true"}
    media_type = headers.pop("content-type", None)
    return Response(exc.body, status_code=exc.status_code, headers=headers, media_type=media_type)


async def idempotency_guard(
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=255, include_in_schema=False),
    ] = None,
) -> None:
    """Router-level dependency: active only for POST with an Idempotency-Key and a bearer token."""
    if request.method != "POST" or not idempotency_key or _exempt(request):
        return
    from app.identity.auth import (
        principal_from_request,  # identity depends on core, not the reverse
    )

    principal = await principal_from_request(request)
    if principal is None:
        return
    principal_key = hashlib.sha256(str(principal.actor_id or principal.org_id).encode()).hexdigest()
    body = await request.body()
    # The query string is part of the request (e.g. ?allow_duplicates=true): a retry must repeat it.
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    request_hash = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), target.encode(), body)).hexdigest()
    inserted = (
        await session.execute(
            pg_insert(IdempotencyRecord)
            .values(id=new_id(), org_id=principal.org_id, principal_key=principal_key,
                    key=idempotency_key, request_hash=request_hash)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        request.scope.setdefault("state", {})[STATE_KEY] = inserted
        return
    existing = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.org_id == principal.org_id,
                IdempotencyRecord.principal_key == principal_key,
                IdempotencyRecord.key == idempotency_key,
            )
        )
    ).scalar_one()
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used for a different request")
    if existing.status_code is None:
        raise IdempotencyResponseUnavailable("Retry with a new key only if you know the first request failed")
    raise Replay(existing)


IdempotencyGuard = Depends(idempotency_guard)

# Pass as `openapi_extra` on a POST route that must never store its response (e.g. the
# sign-in endpoints: a stored response would keep live tokens in the database).
IDEMPOTENCY_EXEMPT: dict[str, Any] = {"x-idempotency-key": "ignored"}


def _exempt(request: Request) -> bool:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    return extra.get("x-idempotency-key") == "ignored"


async def store_response(db: Database, record_id: uuid.UUID, status: int, headers: list[tuple[bytes, bytes]],
                         body: bytes) -> None:
    """Called by the middleware after the response went out."""
    kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k.decode("latin-1").lower() in _STORED_HEADERS}
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .values(status_code=status, response_headers=kept, response_body=body)
        )


async def purge_expired(session: AsyncSession, settings: Any) -> int:
    """Worker job: forget keys older than the retention window."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < func.now() - RETENTION)
    )
    return result.rowcount or 0
