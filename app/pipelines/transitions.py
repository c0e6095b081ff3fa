"""Stage transitions: the rules, and the write that applies one atomically.

A move costs two statements: one SELECT reads the deal, its current stage, the target
stage and the lost reason together; one statement of data-modifying CTEs then bumps the
deal's version (conditioned on the version read), closes the open stage interval, opens
the next, appends the transition, and writes the event and the audit row. Every part
reads from the conditional UPDATE, so a request that lost a race writes nothing at all
(no half-applied move, no gap in the event sequence) and gets 409/412.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import lru_cache
from typing import Any

import orjson
import structlog
from sqlalchemy import and_, bindparam, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.db import utcnow
from app.core.etag import check_version
from app.core.events import jsonable
from app.core.ids import new_id
from app.core.pagination import keyset_page, page_of
from app.identity.principal import Principal
from app.pipelines import criteria as crit
from app.pipelines.errors import (
    AdminOnly,
    AlreadyInStage,
    CriteriaUnmet,
    InvalidTime,
    InvalidTransition,
    LostReasonRequired,
    OpportunityClosed,
    OpportunityNotFound,
    OtherPipeline,
    ReasonRequired,
)
from app.pipelines.models import LostReason, Pipeline, Stage, StageTransition
from app.pipelines.opportunity_service import (
    DOMAIN,
    NOT_FOUND,
    _lost_race,
    load_view_row,
)
from app.pipelines.queries import FROM, VIEW_COLUMNS, o, opportunity_view, s, scope
from app.pipelines.schemas import ReopenIn, TransitionIn

ts = Stage.__table__.alias("target")
tp = Pipeline.__table__.alias("target_pipeline")
lr = LostReason.__table__.alias("lr")
st = StageTransition.__table__

_LOAD_FROM = (
    FROM.outerjoin(ts, and_(ts.c.id == bindparam("to_stage_id"), ts.c.org_id == o.c.org_id))
    .outerjoin(tp, tp.c.id == ts.c.pipeline_id)
    .outerjoin(lr, and_(lr.c.id == bindparam("lost_reason_id"), lr.c.org_id == o.c.org_id, lr.c.is_active))
)
_LOAD_COLUMNS = [
    *VIEW_COLUMNS,
    s.c.position.label("stage_position"),
    ts.c.id.label("t_id"), ts.c.pipeline_id.label("t_pipeline_id"), ts.c.name.label("t_name"),
    ts.c.labels.label("t_labels"), ts.c.kind.label("t_kind"), ts.c.position.label("t_position"),
    ts.c.probability.label("t_probability"), ts.c.sla_days.label("t_sla_days"), ts.c.criteria.label("t_criteria"),
    ts.c.is_retired.label("t_is_retired"), tp.c.is_archived.label("t_pipeline_archived"),
    lr.c.id.label("lr_id"), lr.c.name.label("lr_name"),
]


@lru_cache(maxsize=4096)
def _load_statement(principal: Principal) -> Any:
    """Built once per principal, so SQLAlchemy reuses the compiled statement."""
    return select(*_LOAD_COLUMNS).select_from(_LOAD_FROM).where(
        o.c.id == bindparam("opportunity_id"), *scope(principal))


async def _load(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID,
    to_stage_id: uuid.UUID | None, lost_reason_id: uuid.UUID | None,
) -> RowMapping:
    params = {"opportunity_id": opportunity_id, "to_stage_id": to_stage_id, "lost_reason_id": lost_reason_id}
    row = (await session.execute(_load_statement(principal), params)).mappings().first()
    if row is None:
        raise OpportunityNotFound(NOT_FOUND)
    return row


_WRITE = text("""
WITH upd AS (
    UPDATE opportunity
    SET stage_id = :to_stage_id, pipeline_id = :to_pipeline_id, status = CAST(:status AS opportunity_status),
        stage_entered_at = :occurred_at, closed_at = :closed_at, lost_reason_id = :lost_reason_id,
        version = version + 1, updated_at = :now
    WHERE id = :opp_id AND org_id = :org_id AND version = :version AND deleted_at IS NULL
    RETURNING id, org_id, pipeline_id, stage_id, owner_id, team_id, amount, version
), closed AS (
    UPDATE stage_interval SET exited_at = :occurred_at, exit_kind = CAST(:exit_kind AS stage_exit_kind)
    WHERE org_id = :org_id AND opportunity_id = (SELECT id FROM upd) AND exited_at IS NULL
    RETURNING id
), opened AS (
    INSERT INTO stage_interval
        (id, org_id, opportunity_id, pipeline_id, stage_id, owner_id, team_id, entered_at, exit_kind)
    SELECT CAST(:interval_id AS uuid), upd.org_id, upd.id, upd.pipeline_id, upd.stage_id, upd.owner_id,
           upd.team_id, CAST(:occurred_at AS timestamptz), 'still_open'
    FROM upd, (SELECT count(*) FROM closed) AS after_close  -- close the old visit first (unique open visit)
    RETURNING id
), moved AS (
    INSERT INTO stage_transition
        (id, org_id, opportunity_id, kind, from_stage_id, to_stage_id, from_pipeline_id, to_pipeline_id,
         actor_id, occurred_at, recorded_at, reason, note, lost_reason_id, override, amount, seq)
    SELECT CAST(:transition_id AS uuid), upd.org_id, upd.id, CAST(:kind AS transition_kind),
           CAST(:from_stage_id AS uuid), upd.stage_id, CAST(:from_pipeline_id AS uuid), upd.pipeline_id,
           CAST(:actor_id AS uuid), CAST(:occurred_at AS timestamptz), CAST(:now AS timestamptz),
           CAST(:reason AS text), CAST(:note AS text), CAST(:lost_reason_id AS uuid), CAST(:override AS boolean),
           upd.amount, upd.version
    FROM upd
    RETURNING id
), bump AS (
    INSERT INTO org_event_counter (org_id, last_seq) SELECT org_id, 1 FROM upd
    ON CONFLICT (org_id) DO UPDATE SET last_seq = org_event_counter.last_seq + 1
    RETURNING last_seq
), ev AS (
    INSERT INTO event (id, org_id, seq, type, entity_type, entity_id, actor_id, payload)
    SELECT CAST(:event_id AS uuid), CAST(:org_id AS uuid), bump.last_seq, CAST(:event_type AS varchar),
           'opportunity', CAST(:opp_id AS uuid), CAST(:actor_id AS uuid), CAST(:payload AS jsonb)
    FROM bump
    RETURNING seq
), audited AS (
    INSERT INTO audit_entry (id, org_id, actor_id, actor_kind, entity_type, entity_id, action, changes, request_id)
    SELECT CAST(:audit_id AS uuid), upd.org_id, CAST(:actor_id AS uuid), CAST(:actor_kind AS varchar),
           'opportunity', upd.id, 'state_change', CAST(:changes AS jsonb), CAST(:request_id AS varchar)
    FROM upd
    RETURNING id
)
SELECT upd.version, (SELECT seq FROM ev) AS event_seq, (SELECT count(*) FROM opened) AS opened,
       (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM audited) AS audited
FROM upd
""")

EXIT_KIND = {"advanced": "advanced", "regressed": "regressed", "won": "won", "lost": "lost",
             "reopened": "reopened", "pipeline_changed": "moved"}
STATUS_OF_KIND = {"open": "open", "won": "won", "lost": "lost"}


def _stage_ref(row: RowMapping, prefix: str) -> dict[str, Any]:
    if prefix == "stage":
        return {"id": row["stage_id"], "name": row["stage_name"], "labels": row["stage_labels"],
                "kind": row["stage_kind"], "probability": row["stage_probability"]}
    return {"id": row["t_id"], "name": row["t_name"], "labels": row["t_labels"], "kind": row["t_kind"],
            "probability": row["t_probability"]}


def _dumps(value: Any) -> str:
    return orjson.dumps(jsonable(value)).decode()


async def _apply(
    session: AsyncSession, principal: Principal, row: RowMapping, *, kind: str, occurred_at: dt.datetime,
    reason: str | None, note: str | None, lost_reason_id: uuid.UUID | None, override: bool,
    if_match: str | None, event_type: str,
) -> dict[str, Any]:
    now = utcnow()
    status = STATUS_OF_KIND[str(row["t_kind"])]
    closed_at = occurred_at if status != "open" else None
    version = row["version"] + 1
    after = {
        **row, "stage_id": row["t_id"], "pipeline_id": row["t_pipeline_id"], "status": status,
        "stage_entered_at": occurred_at, "closed_at": closed_at, "lost_reason_id": lost_reason_id,
        "version": version, "updated_at": now, "stage_name": row["t_name"], "stage_labels": row["t_labels"],
        "stage_kind": row["t_kind"], "stage_probability": row["t_probability"], "stage_sla_days": row["t_sla_days"],
    }
    view = opportunity_view(after, now)
    transition = {
        "id": new_id(), "opportunity_id": row["id"], "seq": version, "kind": kind,
        "from_stage_id": row["stage_id"], "to_stage_id": row["t_id"],
        "from_pipeline_id": row["pipeline_id"], "to_pipeline_id": row["t_pipeline_id"],
        "actor_id": principal.actor_id, "occurred_at": occurred_at, "recorded_at": now, "reason": reason,
        "note": note, "lost_reason_id": lost_reason_id, "override": override, "amount": row["amount"],
    }
    payload = {
        "opportunity": view, "transition": transition,
        "from_stage": _stage_ref(row, "stage"), "to_stage": _stage_ref(row, "t"),
        "amount": row["amount"], "currency": row["currency"], "owner_id": row["owner_id"],
        "team_id": row["team_id"],
    }
    changes = {
        key: {"before": row[key], "after": after[key]}
        for key in ("stage_id", "pipeline_id", "status", "closed_at", "lost_reason_id", "version")
        if row[key] != after[key]
    }
    changes["transition"] = {"before": None, "after": {"kind": kind, "override": override, "reason": reason}}
    result = (await session.execute(_WRITE, {
        "opp_id": row["id"], "org_id": principal.org_id, "version": row["version"],
        "to_stage_id": row["t_id"], "to_pipeline_id": row["t_pipeline_id"], "status": status,
        "occurred_at": occurred_at, "closed_at": closed_at, "lost_reason_id": lost_reason_id, "now": now,
        "exit_kind": EXIT_KIND[kind], "interval_id": new_id(), "transition_id": transition["id"], "kind": kind,
        "from_stage_id": row["stage_id"], "from_pipeline_id": row["pipeline_id"], "actor_id": principal.actor_id,
        "reason": reason, "note": note, "override": override, "event_id": new_id(), "event_type": event_type,
        "payload": _dumps(payload), "audit_id": new_id(), "actor_kind": principal.kind,
        "changes": _dumps(changes), "request_id": structlog.contextvars.get_contextvars().get("request_id"),
    })).first()
    if result is None:
        raise _lost_race(if_match)
    return {"opportunity": view, "transition": transition}


def _check_time(principal: Principal, occurred_at: dt.datetime | None, row: RowMapping) -> dt.datetime:
    if occurred_at is None:
        return max(utcnow(), row["stage_entered_at"])
    if not principal.is_admin:
        raise AdminOnly("Only an administrator may back-date a move (history import)")
    if occurred_at > utcnow():
        raise InvalidTime("occurred_at cannot be in the future")
    if occurred_at < row["stage_entered_at"]:
        raise InvalidTime(f"occurred_at cannot be before the previous move ({row['stage_entered_at'].isoformat()})")
    return occurred_at


async def transition(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, data: TransitionIn,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Move a deal to another stage, enforcing every rule for every caller."""
    principal.require(DOMAIN, "write")
    row = await _load(session, principal, opportunity_id, data.to_stage_id, data.lost_reason_id)
    check_version(row["version"], if_match)
    if row["status"] != "open":
        raise OpportunityClosed("The deal is closed; reopen it (POST .../reopen) before moving it")
    if row["t_id"] is None:
        raise InvalidTransition("to_stage_id names no stage of this organisation")
    if row["t_id"] == row["stage_id"]:
        raise AlreadyInStage("The deal is already in that stage")
    if row["t_is_retired"]:
        raise InvalidTransition("That stage is retired and takes no new deals")
    target_kind = str(row["t_kind"])
    if row["t_pipeline_id"] != row["pipeline_id"]:
        if not data.change_pipeline:
            raise OtherPipeline("The stage belongs to another pipeline; send change_pipeline=true to move the deal there")
        if row["t_pipeline_archived"]:
            raise InvalidTransition("That pipeline is archived")
        kind = "pipeline_changed" if target_kind == "open" else target_kind
    elif target_kind in ("won", "lost"):
        kind = target_kind
    else:
        kind = "advanced" if row["t_position"] > row["stage_position"] else "regressed"
    if kind == "regressed" and not data.reason:
        raise ReasonRequired("Moving a deal backwards needs a reason")
    if target_kind == "lost":
        if data.lost_reason_id is None:
            raise LostReasonRequired("Give lost_reason_id from the organisation's lost-reason catalogue")
        if row["lr_id"] is None:
            raise LostReasonRequired("lost_reason_id is not an active reason of the organisation's catalogue")
    elif data.lost_reason_id is not None:
        raise InvalidTransition("lost_reason_id only applies when moving into a lost stage")
    if data.override:
        # A person's explicit decision: API keys and automations never bypass the gates.
        if not principal.is_admin or principal.kind != "user":
            raise AdminOnly("Only an administrator (a person, not an API key) may override the stage gates")
        if not data.reason:
            raise ReasonRequired("An override needs a reason; it is recorded in the history")
    occurred_at = _check_time(principal, data.occurred_at, row)
    unmet = await crit.unmet_criteria(session, principal, row["t_criteria"] or [], row, note=data.note)
    if unmet and not data.override:
        raise CriteriaUnmet(f"{len(unmet)} entry criteria of '{row['t_name']}' are not met", unmet=unmet)
    return await _apply(
        session, principal, row, kind=kind, occurred_at=occurred_at, reason=data.reason, note=data.note,
        lost_reason_id=data.lost_reason_id if target_kind == "lost" else None, override=data.override,
        if_match=if_match, event_type="opportunity.stage_changed",
    )


async def reopen(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, data: ReopenIn,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Reopen a won or lost deal into an open stage (by default the one it was closed
    from): its own audited transition, with a reason."""
    principal.require(DOMAIN, "write")
    to_stage_id = data.to_stage_id
    if to_stage_id is None:
        probe = await load_view_row(session, principal, opportunity_id)
        to_stage_id = await _closed_from(session, principal, probe)
    row = await _load(session, principal, opportunity_id, to_stage_id, None)
    check_version(row["version"], if_match)
    if row["status"] == "open":
        raise OpportunityClosed("The deal is open; only a won or lost deal can be reopened")
    if row["t_id"] is None:
        raise InvalidTransition("to_stage_id names no stage of this organisation")
    if row["t_pipeline_id"] != row["pipeline_id"] or str(row["t_kind"]) != "open" or row["t_is_retired"]:
        raise InvalidTransition("A deal reopens into an open, active stage of its own pipeline")
    occurred_at = _check_time(principal, data.occurred_at, row)
    return await _apply(
        session, principal, row, kind="reopened", occurred_at=occurred_at, reason=data.reason, note=data.note,
        lost_reason_id=None, override=False, if_match=if_match, event_type="opportunity.reopened",
    )


async def _closed_from(session: AsyncSession, principal: Principal, row: RowMapping) -> uuid.UUID | None:
    """The open stage the deal was in when it was closed, if still usable; else the
    pipeline's first open stage."""
    last_from = (await session.execute(
        select(st.c.from_stage_id).select_from(st.join(Stage.__table__, Stage.__table__.c.id == st.c.from_stage_id))
        .where(st.c.org_id == principal.org_id, st.c.opportunity_id == row["id"], st.c.to_stage_id == row["stage_id"],
               Stage.__table__.c.kind == "open", Stage.__table__.c.is_retired.is_(False),
               Stage.__table__.c.pipeline_id == row["pipeline_id"])
        .order_by(st.c.occurred_at.desc(), st.c.id.desc()).limit(1)
    )).scalar_one_or_none()
    if last_from is not None:
        return last_from
    return (await session.execute(
        select(Stage.id).where(Stage.org_id == principal.org_id, Stage.pipeline_id == row["pipeline_id"],
                               Stage.kind == "open", Stage.is_retired.is_(False)).order_by(Stage.position).limit(1)
    )).scalar_one_or_none()


TRANSITION_COLUMNS = [st.c[name] for name in (
    "id", "opportunity_id", "seq", "kind", "from_stage_id", "to_stage_id", "from_pipeline_id", "to_pipeline_id",
    "actor_id", "occurred_at", "recorded_at", "reason", "note", "lost_reason_id", "override", "amount")]


async def list_transitions(
    reader: AsyncConnection | AsyncSession, principal: Principal, opportunity_id: uuid.UUID, *,
    cursor: str | None, limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """The deal's history, oldest first (a single chain: seq 1, 2, 3, ...)."""
    principal.require(DOMAIN, "read")
    await load_view_row(reader, principal, opportunity_id)
    stmt = select(*TRANSITION_COLUMNS).where(st.c.org_id == principal.org_id, st.c.opportunity_id == opportunity_id)
    stmt = keyset_page(stmt, [st.c.occurred_at, st.c.id], cursor=cursor, limit=limit)
    rows = (await reader.execute(stmt)).mappings().all()
    items, next_cursor = page_of(rows, limit, lambda r: [r["occurred_at"].isoformat(), r["id"]])
    return [dict(r) for r in items], next_cursor


