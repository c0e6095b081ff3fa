"""HTTP endpoints of pipelines, stages, lost reasons and opportunities (thin: parse,
call one service function, shape the response)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.core.db import ReaderDep, SessionDep, read_connection
from app.core.etag import etag_for
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.core.responses import json_response
from app.identity.auth import CurrentPrincipal
from app.pipelines import service
from app.pipelines.models import OpportunityStatus
from app.pipelines.opportunity_service import get_opportunity as read_opportunity
from app.pipelines.schemas import (
    IsoDate,
    LostReasonIn,
    LostReasonOut,
    LostReasonUpdate,
    OpportunityCreate,
    OpportunityOut,
    OpportunityUpdate,
    PipelineCreate,
    PipelineOut,
    PipelineUpdate,
    ReopenIn,
    StageCreate,
    StageOrder,
    StageOut,
    StageUpdate,
    TransitionIn,
    TransitionOut,
    TransitionResult,
)

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
IfMatch = Annotated[str | None, Header(description="The ETag you read; 412 if the record changed since")]

pipelines_router = APIRouter(tags=["pipelines"])
opportunities_router = APIRouter(tags=["opportunities"])


def _tagged(body: dict, status: int = 200) -> Response:
    return json_response(body, status, headers={"ETag": etag_for(body["version"])})


# --- pipelines ------------------------------------------------------------------------------

@pipelines_router.get("/pipelines", response_model=Page[PipelineOut], summary="List pipelines with their stages in order")
async def list_pipelines(
    session: SessionDep, principal: CurrentPrincipal, include_archived: bool = False,
    limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None,
) -> Response:
    items, next_cursor = await service.list_pipelines(
        session, principal, include_archived=include_archived, cursor=cursor, limit=limit)
    return json_response({"items": items, "next_cursor": next_cursor})


@pipelines_router.post("/pipelines", response_model=PipelineOut, status_code=201,
                       summary="Create a pipeline with its stages (admins)")
async def create_pipeline(body: PipelineCreate, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return _tagged(await service.create_pipeline(session, principal, body), 201)


@pipelines_router.get("/pipelines/{pipeline_id}", response_model=PipelineOut, summary="Get a pipeline")
async def get_pipeline(pipeline_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return _tagged(await service.get_pipeline(session, principal, pipeline_id))


@pipelines_router.patch("/pipelines/{pipeline_id}", response_model=PipelineOut,
                        summary="Rename, archive or make default (admins)")
async def update_pipeline(
    pipeline_id: uuid.UUID, body: PipelineUpdate, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    return _tagged(await service.update_pipeline(session, principal, pipeline_id, body, if_match))


@pipelines_router.post("/pipelines/{pipeline_id}/stages", response_model=PipelineOut, status_code=201,
                       summary="Add an open stage (admins)")
async def add_stage(
    pipeline_id: uuid.UUID, body: StageCreate, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    return _tagged(await service.add_stage(session, principal, pipeline_id, body, if_match), 201)


@pipelines_router.put("/pipelines/{pipeline_id}/stage-order", response_model=PipelineOut,
                      summary="Reorder the stages (admins); history is untouched")
async def reorder_stages(
    pipeline_id: uuid.UUID, body: StageOrder, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    return _tagged(await service.reorder_stages(session, principal, pipeline_id, body, if_match))


@pipelines_router.patch("/stages/{stage_id}", response_model=StageOut,
                        summary="Rename a stage, change its probability, SLA or criteria, retire it (admins)")
async def update_stage(
    stage_id: uuid.UUID, body: StageUpdate, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    return _tagged(await service.update_stage(session, principal, stage_id, body, if_match))


@pipelines_router.get("/lost-reasons", response_model=Page[LostReasonOut], summary="List the lost-reason catalogue")
async def list_lost_reasons(
    session: SessionDep, principal: CurrentPrincipal, include_inactive: bool = False,
    limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None,
) -> Response:
    items, next_cursor = await service.list_lost_reasons(
        session, principal, include_inactive=include_inactive, cursor=cursor, limit=limit)
    return json_response({"items": items, "next_cursor": next_cursor})


@pipelines_router.post("/lost-reasons", response_model=LostReasonOut, status_code=201,
                       summary="Add a lost reason (admins)")
async def create_lost_reason(body: LostReasonIn, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return json_response(await service.create_lost_reason(session, principal, body), 201)


@pipelines_router.patch("/lost-reasons/{reason_id}", response_model=LostReasonOut,
                        summary="Rename or deactivate a lost reason (admins)")
async def update_lost_reason(
    reason_id: uuid.UUID, body: LostReasonUpdate, session: SessionDep, principal: CurrentPrincipal,
) -> Response:
    return json_response(await service.update_lost_reason(session, principal, reason_id, body))


# --- opportunities --------------------------------------------------------------------------

@opportunities_router.get("/opportunities", response_model=Page[OpportunityOut], summary="List opportunities")
async def list_opportunities(
    reader: ReaderDep,
    principal: CurrentPrincipal,
    pipeline_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    status: OpportunityStatus | None = None,
    amount_min: Annotated[Decimal | None, Query(ge=0, max_digits=18, decimal_places=2)] = None,
    amount_max: Annotated[Decimal | None, Query(ge=0, max_digits=18, decimal_places=2)] = None,
    close_from: Annotated[IsoDate | None, Query(description="Expected close date on or after")] = None,
    close_to: Annotated[IsoDate | None, Query(description="Expected close date on or before")] = None,
    stalled: Annotated[bool | None, Query(description="Only stalled (true) or only not stalled (false) deals")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL,
                                   description="Substring of the name, any language")] = None,
    source: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    tag: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Response:
    items, next_cursor = await service.list_opportunities(
        reader, principal, pipeline_id=pipeline_id, stage_id=stage_id, owner_id=owner_id, team_id=team_id,
        account_id=account_id, status=status, amount_min=amount_min, amount_max=amount_max,
        close_from=close_from, close_to=close_to, stalled=stalled, q=q, source=source, tag=tag,
        cursor=cursor, limit=limit,
    )
    return json_response({"items": items, "next_cursor": next_cursor})


@opportunities_router.post("/opportunities", response_model=OpportunityOut, status_code=201,
                           summary="Create an opportunity (in the default pipeline's first stage unless told)")
async def create_opportunity(body: OpportunityCreate, session: SessionDep, principal: CurrentPrincipal) -> Response:
    opp = await service.create_opportunity(session, principal, body)
    return _tagged(await read_opportunity(session, principal, opp.id), 201)


@opportunities_router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut,
                          summary="Get an opportunity")
async def get_opportunity(opportunity_id: uuid.UUID, request: Request, principal: CurrentPrincipal) -> Response:
    async with read_connection(request, hot=True) as reader:
        return _tagged(await service.get_opportunity(reader, principal, opportunity_id))


@opportunities_router.patch("/opportunities/{opportunity_id}", response_model=OpportunityOut,
                            summary="Update an opportunity's fields (stage moves go through transitions)")
async def update_opportunity(
    opportunity_id: uuid.UUID, body: OpportunityUpdate, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    return _tagged(await service.update_opportunity(session, principal, opportunity_id, body, if_match))


@opportunities_router.delete("/opportunities/{opportunity_id}", status_code=204,
                             summary="Delete an opportunity (its history is kept)")
async def delete_opportunity(
    opportunity_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None,
) -> Response:
    await service.delete_opportunity(session, principal, opportunity_id, if_match)
    return Response(status_code=204)


@opportunities_router.post("/opportunities/{opportunity_id}/transitions", response_model=TransitionResult,
                           status_code=201, summary="Move an opportunity to another stage")
async def transition(
    opportunity_id: uuid.UUID, body: TransitionIn, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    result = await service.transition(session, principal, opportunity_id, body, if_match)
    return json_response(result, 201, headers={"ETag": etag_for(result["opportunity"]["version"])})


@opportunities_router.post("/opportunities/{opportunity_id}/reopen", response_model=TransitionResult,
                           status_code=201, summary="Reopen a won or lost opportunity (with a reason)")
async def reopen(
    opportunity_id: uuid.UUID, body: ReopenIn, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    result = await service.reopen(session, principal, opportunity_id, body, if_match)
    return json_response(result, 201, headers={"ETag": etag_for(result["opportunity"]["version"])})


@opportunities_router.get("/opportunities/{opportunity_id}/transitions", response_model=Page[TransitionOut],
                          summary="The opportunity's stage history, oldest first")
async def list_transitions(
    opportunity_id: uuid.UUID, reader: ReaderDep, principal: CurrentPrincipal,
    limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None,
) -> Response:
    items, next_cursor = await service.list_transitions(reader, principal, opportunity_id, cursor=cursor, limit=limit)
    return json_response({"items": items, "next_cursor": next_cursor})
