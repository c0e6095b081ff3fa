"""HTTP endpoints for activities and tasks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from app.activities import service
from app.activities.models import ActivityKind, TaskStatus
from app.activities.schemas import (
    ActivityCreate,
    ActivityOut,
    ActivityUpdate,
    TaskCreate,
    TaskOut,
    TaskUpdate,
)
from app.core.db import SessionDep
from app.core.etag import set_etag
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.identity.auth import CurrentPrincipal
from app.leads.types import QueryDateTime

router = APIRouter(tags=["activities"])
IfMatch = Annotated[str, Header(alias="If-Match", description="ETag from a previous read; 412 when stale")]


@router.post("/activities", status_code=status.HTTP_201_CREATED, response_model=ActivityOut,
             summary="Log a call, email, meeting, visit, proposal or note",
             description="The first activity on a lead stamps its first-response time.")
async def log_activity(body: ActivityCreate, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ActivityOut:
    activity = await service.log_activity(session, principal, body)
    set_etag(response, activity.version)
    response.headers["Location"] = f"/v1/activities/{activity.id}"
    return ActivityOut.model_validate(activity)


@router.get("/activities", response_model=Page[ActivityOut], summary="List activities (newest first)")
async def list_activities(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                          limit: LimitParam = DEFAULT_LIMIT, lead_id: Annotated[uuid.UUID, Query()] = None,
                          account_id: Annotated[uuid.UUID, Query()] = None, contact_id: Annotated[uuid.UUID, Query()] = None,
                          opportunity_id: Annotated[uuid.UUID, Query()] = None, owner_id: Annotated[uuid.UUID, Query()] = None,
                          kind: Annotated[ActivityKind, Query()] = None, occurred_after: Annotated[QueryDateTime, Query()] = None,
                          occurred_before: Annotated[QueryDateTime, Query()] = None) -> Page[ActivityOut]:
    items, nxt = await service.list_activities(
        session, principal, cursor=cursor, limit=limit, lead_id=lead_id, account_id=account_id, contact_id=contact_id,
        opportunity_id=opportunity_id, owner_id=owner_id, kind=kind, occurred_after=occurred_after,
        occurred_before=occurred_before)
    return Page[ActivityOut](items=[ActivityOut.model_validate(i) for i in items], next_cursor=nxt)


@router.get("/activities/{activity_id}", response_model=ActivityOut, summary="Get an activity")
async def get_activity(activity_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ActivityOut:
    activity = await service.get_activity(session, principal, activity_id)
    set_etag(response, activity.version)
    return ActivityOut.model_validate(activity)


@router.patch("/activities/{activity_id}", response_model=ActivityOut, summary="Correct an activity")
async def update_activity(activity_id: uuid.UUID, body: ActivityUpdate, session: SessionDep, principal: CurrentPrincipal,
                          response: Response, if_match: IfMatch = None) -> ActivityOut:
    activity = await service.update_activity(session, principal, activity_id, body, if_match=if_match)
    set_etag(response, activity.version)
    return ActivityOut.model_validate(activity)


@router.delete("/activities/{activity_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an activity")
async def delete_activity(activity_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await service.delete_activity(session, principal, activity_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskOut, summary="Create a task")
async def create_task(body: TaskCreate, session: SessionDep, principal: CurrentPrincipal, response: Response) -> TaskOut:
    task = await service.create_task(session, principal, body)
    set_etag(response, task.version)
    response.headers["Location"] = f"/v1/tasks/{task.id}"
    return TaskOut.model_validate(task)


@router.get("/tasks", response_model=Page[TaskOut], summary="Tasks by due time (e.g. ?assignee=me&due_before=...)")
async def list_tasks(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                     limit: LimitParam = DEFAULT_LIMIT,
                     assignee: Annotated[str, Query(max_length=40, description="`me` or a user id")] = None,
                     status_: Annotated[TaskStatus, Query(alias="status")] = None,
                     due_before: Annotated[QueryDateTime, Query()] = None, due_after: Annotated[QueryDateTime, Query()] = None,
                     lead_id: Annotated[uuid.UUID, Query()] = None, account_id: Annotated[uuid.UUID, Query()] = None) -> Page[TaskOut]:
    items, nxt = await service.list_tasks(session, principal, cursor=cursor, limit=limit, assignee=assignee, status=status_,
                                          due_before=due_before, due_after=due_after, lead_id=lead_id, account_id=account_id)
    return Page[TaskOut](items=[TaskOut.model_validate(i) for i in items], next_cursor=nxt)


@router.get("/tasks/{task_id}", response_model=TaskOut, summary="Get a task")
async def get_task(task_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> TaskOut:
    task = await service.get_task(session, principal, task_id)
    set_etag(response, task.version)
    return TaskOut.model_validate(task)


@router.patch("/tasks/{task_id}", response_model=TaskOut, summary="Update or complete a task (status=done)")
async def update_task(task_id: uuid.UUID, body: TaskUpdate, session: SessionDep, principal: CurrentPrincipal,
                      response: Response, if_match: IfMatch = None) -> TaskOut:
    task = await service.update_task(session, principal, task_id, body, if_match=if_match)
    set_etag(response, task.version)
    return TaskOut.model_validate(task)


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a task")
async def delete_task(task_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await service.delete_task(session, principal, task_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
