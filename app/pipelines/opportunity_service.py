"""Opportunities: create, read, list, update, delete. Stage moves live in transitions.py.

Writes are optimistic: the UPDATE is conditioned on the version that was read, so a
racing writer changes nothing and gets 409 (or 412 with If-Match), without row locks
held across the request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.accounts.models import Account
from app.accounts.service import account_scope
from app.core.audit import AuditAction, record_audit
from app.core.db import Reader, fetch_one, utcnow
from app.core.errors import Unprocessable
from app.core.etag import check_version, expected_version
from app.core.events import record_event
from app.core.ids import new_id
from app.core.pagination import keyset_page, page_of
from app.identity.models import Org
from app.identity.owners import InvalidOwner, resolve_owner
from app.identity.principal import Principal
from app.pipelines import criteria as crit
from app.pipelines.errors import (
    AdminOnly,
    ConcurrentChange,
    CriteriaUnmet,
    InvalidTime,
    InvalidTransition,
    NoDefaultPipeline,
    OpportunityNotFound,
    PipelineNotFound,
    StageNotFound,
    StaleVersion,
)
from app.pipelines.models import (
    ExitKind,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageInterval,
    StageKind,
    StageTransition,
    TransitionKind,
)
from app.pipelines.queries import (
    IS_STALLED,
    o,
    opportunity_view,
    read_one_statement,
    scope,
    view_select,
)
from app.pipelines.schemas import OpportunityCreate, OpportunityUpdate

DOMAIN = "opportunities"
NOT_FOUND = "No opportunity with that id"


async def load_view_row(reader: Reader, principal: Principal, opportunity_id: uuid.UUID) -> Mapping[str, Any]:
    row = await fetch_one(reader, read_one_statement(principal), {"opportunity_id": opportunity_id})
    if row is None:
        raise OpportunityNotFound(NOT_FOUND)
    return row


async def get_opportunity(reader: Reader, principal: Principal, opportunity_id: uuid.UUID) -> dict[str, Any]:
    principal.require(DOMAIN, "read")
    return opportunity_view(await load_view_row(reader, principal, opportunity_id))


# --- list -----------------------------------------------------------------------------------

def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_opportunities(
    reader: AsyncConnection | AsyncSession,
    principal: Principal,
    *,
    pipeline_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    status: OpportunityStatus | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
    stalled: bool | None = None,
    q: str | None = None,
    source: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    principal.require(DOMAIN, "read")
    stmt = view_select().where(*scope(principal))
    filters = {
        o.c.pipeline_id: pipeline_id, o.c.stage_id: stage_id, o.c.owner_id: owner_id, o.c.team_id: team_id,
        o.c.account_id: account_id, o.c.status: status, o.c.source: source,
    }
    stmt = stmt.where(*(col == value for col, value in filters.items() if value is not None))
    if amount_min is not None:
        stmt = stmt.where(o.c.amount >= amount_min)
    if amount_max is not None:
        stmt = stmt.where(o.c.amount <= amount_max)
    if close_from is not None:
        stmt = stmt.where(o.c.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(o.c.expected_close_date <= close_to)
    if stalled is not None:
        stmt = stmt.where(IS_STALLED if stalled else ~IS_STALLED)
    if tag:
        stmt = stmt.where(o.c.tags.contains([tag]))
    if q:
        # ILIKE on a trigram GIN index: substring search that works for Chinese too.
        stmt = stmt.where(o.c.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    stmt = keyset_page(stmt, [o.c.created_at, o.c.id], cursor=cursor, limit=limit, descending=True)
    rows = (await reader.execute(stmt)).mappings().all()
    items, next_cursor = page_of(rows, limit, lambda r: [r["created_at"].isoformat(), r["id"]])
    now = dt.datetime.now(dt.UTC)
    return [opportunity_view(r, now) for r in items], next_cursor


# --- create ---------------------------------------------------------------------------------

async def _starting_stage(session: AsyncSession, principal: Principal, data: OpportunityCreate) -> Stage:
    if data.stage_id is not None:
        stage = (await session.execute(
            select(Stage).join(Pipeline, Pipeline.id == Stage.pipeline_id).where(
                Stage.id == data.stage_id, Stage.org_id == principal.org_id, Pipeline.is_archived.is_(False))
        )).scalar_one_or_none()
        if stage is None:
            raise StageNotFound("No stage with that id")
        if data.pipeline_id is not None and stage.pipeline_id != data.pipeline_id:
            raise InvalidTransition("The stage belongs to another pipeline than pipeline_id")
        if stage.is_retired or stage.kind is not StageKind.open:
            raise InvalidTransition("A new deal starts in an open stage that is not retired")
        return stage
    pipeline_clause = (
        Pipeline.id == data.pipeline_id if data.pipeline_id is not None else Pipeline.is_default.is_(True)
    )
    stage = (await session.execute(
        select(Stage).join(Pipeline, Pipeline.id == Stage.pipeline_id).where(
            Pipeline.org_id == principal.org_id, pipeline_clause, Pipeline.is_archived.is_(False),
            Stage.kind == StageKind.open, Stage.is_retired.is_(False),
        ).order_by(Stage.position).limit(1)
    )).scalar_one_or_none()
    if stage is None:
        if data.pipeline_id is not None:
            raise PipelineNotFound("No active pipeline with that id")
        raise NoDefaultPipeline("Create a pipeline and make it the default, or pass pipeline_id")
    return stage


async def _org_currency(session: AsyncSession, org_id: uuid.UUID) -> str:
    settings = await session.scalar(select(Org.settings).where(Org.id == org_id))
    currency = (settings or {}).get("currency")
    return currency if isinstance(currency, str) and len(currency) == 3 else "CNY"


def _check_past(value: dt.datetime, *, after: dt.datetime | None, what: str) -> dt.datetime:
    now = utcnow()
    if value > now:
        raise InvalidTime(f"{what} cannot be in the future")
    if after is not None and value < after:
        raise InvalidTime(f"{what} cannot be before the previous move ({after.isoformat()})")
    return value


async def _check_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None) -> None:
    """A deal may only point at an account the caller can see (422 as for an unknown id:
    never an FK 500, never a hint that another rep's account exists)."""
    if account_id is None:
        return
    found = await session.scalar(select(Account.id).where(Account.id == account_id, account_scope(principal)))
    if found is None:
        raise Unprocessable("No such account", errors=[
            {"loc": ["body", "account_id"], "msg": "No such account", "type": "value_error"}])


def _record_fields(opp: Opportunity) -> dict[str, Any]:
    return {name: getattr(opp, name) for name in (
        "name", "owner_id", "team_id", "account_id", "pipeline_id", "stage_id", "status", "amount", "currency",
        "expected_close_date", "source", "tags", "description", "lost_reason_id", "closed_at", "version")}


async def create_opportunity(
    session: AsyncSession, principal: Principal, data: OpportunityCreate, *, lead_id: uuid.UUID | None = None
) -> Opportunity:
    """A new deal in its first stage (the default pipeline's unless told otherwise), with
    its first stage interval, its `created` transition, audit and event. `lead_id` links
    the lead it was converted from (set by lead conversion, never from a request body)."""
    principal.require(DOMAIN, "write")
    await _check_account(session, principal, data.account_id)
    if data.created_at is not None and not principal.is_admin:
        raise AdminOnly("Only an administrator may import deals with a past created_at")
    created_at = _check_past(data.created_at, after=None, what="created_at") if data.created_at else utcnow()
    owner_id, team_id = await resolve_owner(session, principal, data.owner_id, what="deals")
    stage = await _starting_stage(session, principal, data)
    currency = data.currency or await _org_currency(session, principal.org_id)
    fields = {
        "name": data.name, "account_id": data.account_id, "amount": data.amount, "currency": currency,
        "expected_close_date": data.expected_close_date, "source": data.source, "tags": list(data.tags),
        "description": data.description,
    }
    unmet = await crit.unmet_criteria(session, principal, stage.criteria, {"id": None, **fields}, note=None)
    if unmet:
        raise CriteriaUnmet(f"{len(unmet)} entry criteria of '{stage.name}' are not met", unmet=unmet)
    opp = Opportunity(
        id=new_id(), org_id=principal.org_id, owner_id=owner_id, team_id=team_id, pipeline_id=stage.pipeline_id,
        stage_id=stage.id, stage_entered_at=created_at, status=OpportunityStatus.open, version=1,
        lead_id=lead_id, created_at=created_at, updated_at=utcnow(), **fields,
    )
    session.add(opp)
    await session.flush()
    session.add_all([
        StageInterval(id=new_id(), org_id=opp.org_id, opportunity_id=opp.id, pipeline_id=opp.pipeline_id,
                      stage_id=stage.id, owner_id=owner_id, team_id=team_id, entered_at=created_at,
                      exit_kind=ExitKind.still_open),
        StageTransition(id=new_id(), org_id=opp.org_id, opportunity_id=opp.id, kind=TransitionKind.created,
                        to_stage_id=stage.id, to_pipeline_id=stage.pipeline_id, actor_id=principal.actor_id,
                        occurred_at=created_at, amount=opp.amount, seq=1, override=False),
    ])
    await session.flush()
    view = opportunity_view(_row_of(opp, stage))
    await record_audit(session, principal, entity_type="opportunity", entity_id=opp.id,
                       action=AuditAction.create, after=_record_fields(opp))
    await record_event(session, org_id=principal.org_id, type="opportunity.created", entity_type="opportunity",
                       entity_id=opp.id, payload={"opportunity": view}, actor_id=principal.actor_id)
    return opp


def _row_of(opp: Opportunity, stage: Stage) -> dict[str, Any]:
    row = {name: getattr(opp, name) for name in (
        "id", "name", "owner_id", "team_id", "account_id", "lead_id", "pipeline_id", "stage_id", "status", "amount",
        "currency", "expected_close_date", "source", "tags", "description", "lost_reason_id",
        "stage_entered_at", "closed_at", "version", "created_at", "updated_at")}
    row.update(stage_name=stage.name, stage_labels=stage.labels, stage_kind=stage.kind,
               stage_probability=stage.probability, stage_sla_days=stage.sla_days)
    return row


# --- update and delete ----------------------------------------------------------------------

UPDATABLE = ("name", "account_id", "amount", "currency", "expected_close_date", "source", "tags", "description")


async def update_opportunity(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, data: OpportunityUpdate,
    if_match: str | None,
) -> dict[str, Any]:
    principal.require(DOMAIN, "write")
    row = await load_view_row(session, principal, opportunity_id)
    check_version(row["version"], if_match)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if k in UPDATABLE}
    for key in ("name", "currency"):
        if key in changes and changes[key] is None:
            raise InvalidTransition(f"{key} cannot be null")
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if changes.get("account_id") is not None:
        await _check_account(session, principal, changes["account_id"])
    if "owner_id" in data.model_fields_set and data.owner_id != row["owner_id"]:
        if data.owner_id is None:
            raise InvalidOwner("A deal always has an owner")
        changes["owner_id"], changes["team_id"] = await resolve_owner(session, principal, data.owner_id, what="deals")
    changes = {k: v for k, v in changes.items() if row[k] != v}
    if not changes:
        return opportunity_view(row)
    now = utcnow()
    new = (await session.execute(
        update(Opportunity)
        .where(Opportunity.id == opportunity_id, Opportunity.org_id == principal.org_id,
               Opportunity.version == row["version"])
        .values(**changes, version=Opportunity.version + 1, updated_at=now)
        .returning(Opportunity.version)
    )).first()
    if new is None:
        raise _lost_race(if_match)
    after = {**row, **changes, "version": new.version, "updated_at": now}
    view = opportunity_view(after)
    before_fields = {k: row[k] for k in changes} | {"version": row["version"]}
    after_fields = dict(changes) | {"version": new.version}
    await record_audit(session, principal, entity_type="opportunity", entity_id=opportunity_id,
                       action=AuditAction.update, before=before_fields, after=after_fields)
    await record_event(
        session, org_id=principal.org_id, type="opportunity.updated", entity_type="opportunity",
        entity_id=opportunity_id, actor_id=principal.actor_id,
        payload={"opportunity": view, "changes": {k: {"before": before_fields[k], "after": after_fields[k]}
                                                   for k in changes}},
    )
    return view


async def delete_opportunity(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, if_match: str | None
) -> None:
    """Soft delete: the deal leaves the API; its history and analytics rows stay."""
    principal.require(DOMAIN, "write")
    row = await load_view_row(session, principal, opportunity_id)
    check_version(row["version"], if_match)
    done = (await session.execute(
        update(Opportunity)
        .where(Opportunity.id == opportunity_id, Opportunity.version == row["version"],
               Opportunity.org_id == principal.org_id)
        .values(deleted_at=utcnow(), version=Opportunity.version + 1, updated_at=utcnow())
        .returning(Opportunity.id)
    )).first()
    if done is None:
        raise _lost_race(if_match)
    view = opportunity_view(row)
    await record_audit(session, principal, entity_type="opportunity", entity_id=opportunity_id,
                       action=AuditAction.delete, before={k: row[k] for k in UPDATABLE + ("owner_id", "stage_id", "status")})
    await record_event(session, org_id=principal.org_id, type="opportunity.deleted", entity_type="opportunity",
                       entity_id=opportunity_id, payload={"opportunity": view}, actor_id=principal.actor_id)


def _lost_race(if_match: str | None) -> Exception:
    if expected_version(if_match) is not None:
        return StaleVersion("The deal changed while this request ran")
    return ConcurrentChange("The deal was changed by another request at the same time; reload and retry")
