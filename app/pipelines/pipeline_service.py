"""Pipelines, their stages and the lost-reason catalogue.

Stages are never deleted and history never rewritten: renaming changes the name shown
everywhere (history refers to the stage id), reordering changes positions, retiring
stops new deals from entering. Configuration is for administrators.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditAction, record_audit
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.etag import check_version
from app.core.events import record_event
from app.core.ids import new_id as _new_id
from app.core.pagination import keyset_page, page_of
from app.identity.models import Role
from app.identity.principal import Principal
from app.pipelines import criteria as crit
from app.pipelines.defaults import (
    DEFAULT_LOST_REASONS,
    DEFAULT_PIPELINE_NAME,
    default_stage_rows,
)
from app.pipelines.errors import (
    InvalidPipeline,
    LostReasonNotFound,
    PipelineNotFound,
    StageInUse,
    StageNotFound,
)
from app.pipelines.models import (
    LostReason,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageKind,
)
from app.pipelines.schemas import (
    LostReasonIn,
    LostReasonUpdate,
    PipelineCreate,
    PipelineUpdate,
    StageCreate,
    StageIn,
    StageOrder,
    StageUpdate,
)

DOMAIN = "pipelines"


def _require_admin(principal: Principal) -> None:
    principal.require(DOMAIN, "write")
    principal.require_role(Role.admin)


# --- views ------------------------------------------------------------------------------

def stage_view(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.id, "pipeline_id": stage.pipeline_id, "name": stage.name, "labels": stage.labels,
        "position": stage.position, "kind": stage.kind.value, "probability": stage.probability,
        "sla_days": stage.sla_days, "criteria": crit.describe(stage.criteria), "is_retired": stage.is_retired,
        "version": stage.version,
    }


def pipeline_view(pipeline: Pipeline, stages: list[Stage]) -> dict[str, Any]:
    return {
        "id": pipeline.id, "name": pipeline.name, "is_default": pipeline.is_default,
        "is_archived": pipeline.is_archived, "version": pipeline.version,
        "created_at": pipeline.created_at, "updated_at": pipeline.updated_at,
        "stages": [stage_view(s) for s in sorted(stages, key=lambda s: s.position)],
    }


def lost_reason_view(reason: LostReason) -> dict[str, Any]:
    return {"id": reason.id, "name": reason.name, "labels": reason.labels, "is_active": reason.is_active}


# --- the defaults of a new organisation -------------------------------------------------

async def create_default_pipeline(session: AsyncSession, org_id: uuid.UUID) -> Pipeline:
    """The default pipeline and lost-reason catalogue of a new organisation (called from
    create_org). Idempotent for the lost reasons; the pipeline is made default."""
    pipeline = Pipeline(id=_new_id(), org_id=org_id, name=DEFAULT_PIPELINE_NAME, is_default=True, version=1)
    session.add(pipeline)
    await session.flush()
    for position, row in enumerate(default_stage_rows(), start=1):
        session.add(Stage(id=_new_id(), org_id=org_id, pipeline_id=pipeline.id, position=position, version=1, **row))
    existing = set((await session.execute(select(LostReason.name).where(LostReason.org_id == org_id))).scalars())
    for name, zh in DEFAULT_LOST_REASONS:
        if name not in existing:
            session.add(LostReason(id=_new_id(), org_id=org_id, name=name, labels={"zh-CN": zh}))
    await session.flush()
    return pipeline


# --- reads --------------------------------------------------------------------------------

async def _stages_of(session: AsyncSession, org_id: uuid.UUID, pipeline_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Stage]]:
    out: dict[uuid.UUID, list[Stage]] = {pid: [] for pid in pipeline_ids}
    if not pipeline_ids:
        return out
    rows = (await session.execute(
        select(Stage).where(Stage.org_id == org_id, Stage.pipeline_id.in_(pipeline_ids)).order_by(Stage.position, Stage.id)
    )).scalars()
    for stage in rows:
        out[stage.pipeline_id].append(stage)
    return out


async def _pipeline(session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, *, lock: bool = False) -> Pipeline:
    stmt = select(Pipeline).where(Pipeline.id == pipeline_id, Pipeline.org_id == principal.org_id)
    if lock:
        stmt = stmt.with_for_update()
    pipeline = (await session.execute(stmt)).scalar_one_or_none()
    if pipeline is None:
        raise PipelineNotFound("No pipeline with that id")
    return pipeline


async def list_pipelines(
    session: AsyncSession, principal: Principal, *, include_archived: bool, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    principal.require(DOMAIN, "read")
    stmt = select(Pipeline).where(Pipeline.org_id == principal.org_id)
    if not include_archived:
        stmt = stmt.where(Pipeline.is_archived.is_(False))
    rows = (await session.execute(keyset_page(stmt, [Pipeline.id], cursor=cursor, limit=limit))).scalars().all()
    items, next_cursor = page_of(rows, limit, lambda p: [p.id])
    stages = await _stages_of(session, principal.org_id, [p.id for p in items])
    return [pipeline_view(p, stages[p.id]) for p in items], next_cursor


async def get_pipeline(session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID) -> dict[str, Any]:
    principal.require(DOMAIN, "read")
    pipeline = await _pipeline(session, principal, pipeline_id)
    return pipeline_view(pipeline, (await _stages_of(session, principal.org_id, [pipeline.id]))[pipeline.id])


async def default_pipeline_id(session: AsyncSession, org_id: uuid.UUID) -> uuid.UUID | None:
    return (await session.execute(
        select(Pipeline.id).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True))
    )).scalar_one_or_none()


# --- writes -------------------------------------------------------------------------------

def _check_stage_set(stages: list[StageIn]) -> None:
    kinds = [s.kind for s in stages]
    if StageKind.open not in kinds:
        raise InvalidPipeline("A pipeline needs at least one open stage")
    if kinds.count(StageKind.won) != 1 or kinds.count(StageKind.lost) != 1:
        raise InvalidPipeline("A pipeline needs exactly one won and one lost stage")
    first_terminal = min(i for i, k in enumerate(kinds) if k is not StageKind.open)
    if any(k is StageKind.open for k in kinds[first_terminal:]):
        raise InvalidPipeline("Open stages come before the won and lost stages")
    names = [s.name.casefold() for s in stages]
    if len(set(names)) != len(names):
        raise InvalidPipeline("Stage names must be unique within a pipeline")


async def _clear_default(session: AsyncSession, org_id: uuid.UUID, keep: uuid.UUID) -> None:
    await session.execute(
        update(Pipeline).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True), Pipeline.id != keep)
        .values(is_default=False, version=Pipeline.version + 1, updated_at=utcnow())
    )


async def create_pipeline(session: AsyncSession, principal: Principal, data: PipelineCreate) -> dict[str, Any]:
    _require_admin(principal)
    _check_stage_set(data.stages)
    pipeline = Pipeline(id=_new_id(), org_id=principal.org_id, name=data.name, is_default=False, version=1)
    session.add(pipeline)
    await session.flush()
    if data.is_default:
        await _clear_default(session, principal.org_id, pipeline.id)
        pipeline.is_default = True
    stages = [
        Stage(id=_new_id(), org_id=principal.org_id, pipeline_id=pipeline.id, position=i, version=1,
              name=s.name, labels=s.labels, kind=s.kind, probability=s.probability, sla_days=s.sla_days,
              criteria=[c.model_dump(mode="json", exclude_none=True) for c in s.criteria])
        for i, s in enumerate(data.stages, start=1)
    ]
    session.add_all(stages)
    await session.flush()
    await session.refresh(pipeline)
    view = pipeline_view(pipeline, stages)
    await _record(session, principal, "pipeline.created", pipeline.id, AuditAction.create, None, view)
    return view


async def update_pipeline(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, data: PipelineUpdate, if_match: str | None
) -> dict[str, Any]:
    _require_admin(principal)
    pipeline = await _pipeline(session, principal, pipeline_id, lock=True)
    check_version(pipeline.version, if_match)
    stages = (await _stages_of(session, principal.org_id, [pipeline.id]))[pipeline.id]
    before = pipeline_view(pipeline, stages)
    if data.is_archived is not None:
        if data.is_archived and (pipeline.is_default or data.is_default):
            raise Conflict("The default pipeline cannot be archived; make another pipeline the default first")
        pipeline.is_archived = data.is_archived
    if data.is_default:
        if pipeline.is_archived:
            raise Conflict("An archived pipeline cannot be the default")
        await _clear_default(session, principal.org_id, pipeline.id)
        pipeline.is_default = True
    if data.name is not None:
        pipeline.name = data.name
    return await _bump_pipeline(session, principal, pipeline, stages, before)


async def _bump_pipeline(
    session: AsyncSession, principal: Principal, pipeline: Pipeline, stages: list[Stage], before: dict[str, Any]
) -> dict[str, Any]:
    pipeline.version += 1
    pipeline.updated_at = utcnow()
    await session.flush()
    after = pipeline_view(pipeline, stages)
    await _record(session, principal, "pipeline.updated", pipeline.id, AuditAction.update, before, after)
    return after


async def add_stage(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, data: StageCreate, if_match: str | None
) -> dict[str, Any]:
    _require_admin(principal)
    pipeline = await _pipeline(session, principal, pipeline_id, lock=True)
    check_version(pipeline.version, if_match)
    if data.kind is not StageKind.open:
        raise InvalidPipeline("Only open stages can be added; a pipeline has exactly one won and one lost stage")
    stages = (await _stages_of(session, principal.org_id, [pipeline.id]))[pipeline.id]
    before = pipeline_view(pipeline, stages)
    if any(s.name.casefold() == data.name.casefold() for s in stages):
        raise InvalidPipeline("Stage names must be unique within a pipeline")
    last_open = max((s.position for s in stages if s.kind is StageKind.open), default=0)
    position = data.position or last_open + 1
    if position > last_open + 1:
        raise InvalidPipeline(f"An open stage must come before the won and lost stages (position <= {last_open + 1})")
    for s in stages:
        if s.position >= position:
            s.position += 1
    stage = Stage(id=_new_id(), org_id=principal.org_id, pipeline_id=pipeline.id, position=position, version=1,
                  name=data.name, labels=data.labels, kind=data.kind, probability=data.probability,
                  sla_days=data.sla_days,
                  criteria=[c.model_dump(mode="json", exclude_none=True) for c in data.criteria],
                  is_retired=False)
    session.add(stage)
    stages.append(stage)
    return await _bump_pipeline(session, principal, pipeline, stages, before)


async def reorder_stages(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, data: StageOrder, if_match: str | None
) -> dict[str, Any]:
    _require_admin(principal)
    pipeline = await _pipeline(session, principal, pipeline_id, lock=True)
    check_version(pipeline.version, if_match)
    stages = (await _stages_of(session, principal.org_id, [pipeline.id]))[pipeline.id]
    before = pipeline_view(pipeline, stages)
    by_id = {s.id: s for s in stages}
    if len(data.stage_ids) != len(set(data.stage_ids)) or set(data.stage_ids) != set(by_id):
        raise InvalidPipeline("List every stage of the pipeline exactly once")
    kinds = [by_id[i].kind for i in data.stage_ids]
    first_terminal = min(i for i, k in enumerate(kinds) if k is not StageKind.open)
    if any(k is StageKind.open for k in kinds[first_terminal:]):
        raise InvalidPipeline("Open stages come before the won and lost stages")
    for position, stage_id in enumerate(data.stage_ids, start=1):
        by_id[stage_id].position = position
    return await _bump_pipeline(session, principal, pipeline, stages, before)


async def update_stage(
    session: AsyncSession, principal: Principal, stage_id: uuid.UUID, data: StageUpdate, if_match: str | None
) -> dict[str, Any]:
    _require_admin(principal)
    stage = (await session.execute(
        select(Stage).where(Stage.id == stage_id, Stage.org_id == principal.org_id).with_for_update()
    )).scalar_one_or_none()
    if stage is None:
        raise StageNotFound("No stage with that id")
    check_version(stage.version, if_match)
    before = stage_view(stage)
    if data.name is not None and data.name != stage.name:
        clash = await session.scalar(select(func.count()).select_from(Stage).where(
            Stage.pipeline_id == stage.pipeline_id, Stage.id != stage.id, func.lower(Stage.name) == data.name.lower()))
        if clash:
            raise InvalidPipeline("Stage names must be unique within a pipeline")
        stage.name = data.name
    if data.labels is not None:
        stage.labels = data.labels
    if data.probability is not None:
        stage.probability = data.probability
    if data.clear_sla:
        stage.sla_days = None
    elif data.sla_days is not None:
        stage.sla_days = data.sla_days
    if data.criteria is not None:
        stage.criteria = [c.model_dump(mode="json", exclude_none=True) for c in data.criteria]
    if data.is_retired is not None and data.is_retired != stage.is_retired:
        if data.is_retired:
            if stage.kind is not StageKind.open:
                raise InvalidPipeline("The won and lost stages cannot be retired")
            open_deals = await session.scalar(select(func.count()).select_from(Opportunity).where(
                Opportunity.org_id == principal.org_id, Opportunity.stage_id == stage.id,
                Opportunity.status == OpportunityStatus.open, Opportunity.deleted_at.is_(None)))
            if open_deals:
                raise StageInUse(f"{open_deals} open deal(s) are in this stage; move them first", open_deals=open_deals)
        stage.is_retired = data.is_retired
    stage.version += 1
    stage.updated_at = utcnow()
    await session.flush()
    after = stage_view(stage)
    await record_audit(session, principal, entity_type="stage", entity_id=stage.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="stage.updated", entity_type="stage",
                       entity_id=stage.id, payload=after, actor_id=principal.actor_id)
    return after


async def _record(session: AsyncSession, principal: Principal, event: str, pipeline_id: uuid.UUID,
                  action: AuditAction, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    await record_audit(session, principal, entity_type="pipeline", entity_id=pipeline_id, action=action,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type=event, entity_type="pipeline",
                       entity_id=pipeline_id, payload=after, actor_id=principal.actor_id)


# --- lost reasons -------------------------------------------------------------------------

async def list_lost_reasons(
    session: AsyncSession, principal: Principal, *, include_inactive: bool, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    principal.require(DOMAIN, "read")
    stmt = select(LostReason).where(LostReason.org_id == principal.org_id)
    if not include_inactive:
        stmt = stmt.where(LostReason.is_active.is_(True))
    rows = (await session.execute(keyset_page(stmt, [LostReason.id], cursor=cursor, limit=limit))).scalars().all()
    items, next_cursor = page_of(rows, limit, lambda r: [r.id])
    return [lost_reason_view(r) for r in items], next_cursor


async def create_lost_reason(session: AsyncSession, principal: Principal, data: LostReasonIn) -> dict[str, Any]:
    _require_admin(principal)
    reason = LostReason(id=_new_id(), org_id=principal.org_id, name=data.name, labels=data.labels, is_active=True)
    session.add(reason)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A lost reason with that name exists") from None
    view = lost_reason_view(reason)
    await record_audit(session, principal, entity_type="lost_reason", entity_id=reason.id,
                       action=AuditAction.create, after=view)
    await record_event(session, org_id=principal.org_id, type="lost_reason.created", entity_type="lost_reason",
                       entity_id=reason.id, payload=view, actor_id=principal.actor_id)
    return view


async def update_lost_reason(
    session: AsyncSession, principal: Principal, reason_id: uuid.UUID, data: LostReasonUpdate
) -> dict[str, Any]:
    _require_admin(principal)
    reason = (await session.execute(
        select(LostReason).where(LostReason.id == reason_id, LostReason.org_id == principal.org_id).with_for_update()
    )).scalar_one_or_none()
    if reason is None:
        raise LostReasonNotFound("No lost reason with that id")
    before = lost_reason_view(reason)
    if data.name is not None:
        reason.name = data.name
    if data.labels is not None:
        reason.labels = data.labels
    if data.is_active is not None:
        reason.is_active = data.is_active
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A lost reason with that name exists") from None
    after = lost_reason_view(reason)
    await record_audit(session, principal, entity_type="lost_reason", entity_id=reason.id,
                       action=AuditAction.update, before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="lost_reason.updated", entity_type="lost_reason",
                       entity_id=reason.id, payload=after, actor_id=principal.actor_id)
    return after
