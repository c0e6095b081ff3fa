"""Activities (the contact-frequency figures) and tasks (the rep's to-do list)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact
from app.accounts.service import account_scope, contact_scope
from app.activities.models import Activity, ActivityKind, Task, TaskStatus
from app.activities.schemas import (
    ActivityCreate,
    ActivityOut,
    ActivityUpdate,
    Subjects,
    TaskCreate,
    TaskOut,
    TaskUpdate,
)
from app.core.audit import AuditAction, record_audit
from app.core.db import one_or_404, utcnow
from app.core.errors import Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.identity.owners import resolve_owner
from app.identity.principal import Principal, visible_owner_clause
from app.leads import service as lead_service
from app.leads.models import Lead
from app.pipelines import queries as opportunity_queries
from app.pipelines.models import Opportunity

DOMAIN = "activities"


def activity_scope(principal: Principal) -> ColumnElement[bool]:
    return (Activity.org_id == principal.org_id) & visible_owner_clause(principal, Activity.owner_id)


def task_scope(principal: Principal) -> ColumnElement[bool]:
    return (Task.org_id == principal.org_id) & visible_owner_clause(principal, Task.assignee_id)


def _subject_scopes(principal: Principal) -> dict[str, tuple[Any, list[ColumnElement[bool]]]]:
    """Per reference field: the model and the filter of the records the principal can see."""
    return {
        "lead_id": (Lead, [lead_service.lead_scope(principal)]),
        "account_id": (Account, [account_scope(principal)]),
        "contact_id": (Contact, [contact_scope(principal)]),
        "opportunity_id": (Opportunity, opportunity_queries.scope(principal)),
    }


async def _check_subjects(session: AsyncSession, principal: Principal, data: Subjects) -> None:
    """Every referenced record must be one the principal can see: a rep logging on another
    rep's lead would otherwise move it to contacted and stamp its first response. A record
    out of sight gets the same 422 as an unknown id (its existence is not revealed)."""
    for field, (model, scope) in _subject_scopes(principal).items():
        ref = getattr(data, field)
        if ref is None:
            continue
        found = await session.scalar(select(model.id).where(model.id == ref, *scope))
        if found is None:
            raise Unprocessable(f"No such {field[:-3]}", errors=[{"loc": ["body", field], "msg": "unknown record", "type": "value_error"}])


def _activity(a: Activity) -> dict[str, Any]:
    return ActivityOut.model_validate(a).model_dump(mode="json")


def _task(t: Task) -> dict[str, Any]:
    return TaskOut.model_validate(t).model_dump(mode="json")


async def log_activity(session: AsyncSession, principal: Principal, data: ActivityCreate) -> Activity:
    principal.require(DOMAIN, "write")
    if principal.user_id is None:
        raise Unprocessable("Activities are logged by a user, not an API key")
    await _check_subjects(session, principal, data)
    activity = Activity(org_id=principal.org_id, owner_id=principal.user_id, version=1,
                        **data.model_dump(exclude={"occurred_at"}), occurred_at=data.occurred_at or utcnow())
    session.add(activity)
    await session.flush()
    await session.refresh(activity, ["created_at"])
    if activity.lead_id is not None:
        await _first_response(session, principal, activity.lead_id)
    after = _activity(activity)
    await record_audit(session, principal, entity_type="activity", entity_id=activity.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="activity.logged", entity_type="activity",
                       entity_id=activity.id, actor_id=principal.actor_id, payload={"activity": after})
    return activity


async def _first_response(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> None:
    """A lead's first response is its earliest activity, whatever order they were logged,
    moved or deleted in."""
    await lead_service.set_first_response(session, principal, lead_id, select(func.min(Activity.occurred_at)).where(
        Activity.org_id == principal.org_id, Activity.lead_id == lead_id))


async def get_activity(session: AsyncSession, principal: Principal, activity_id: uuid.UUID, *, lock: bool = False) -> Activity:
    principal.require(DOMAIN, "read")
    return await one_or_404(session, select(Activity).where(Activity.id == activity_id, activity_scope(principal)),
                            "No activity with that id", lock=lock)


async def list_activities(session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int,
                          lead_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None,
                          contact_id: uuid.UUID | None = None, opportunity_id: uuid.UUID | None = None,
                          owner_id: uuid.UUID | None = None, kind: ActivityKind | None = None,
                          occurred_after: dt.datetime | None = None, occurred_before: dt.datetime | None = None,
                          ) -> tuple[list[Activity], str | None]:
    principal.require(DOMAIN, "read")
    stmt: Select[Any] = select(Activity).where(activity_scope(principal))
    for col, value in ((Activity.lead_id, lead_id), (Activity.account_id, account_id), (Activity.contact_id, contact_id),
                       (Activity.opportunity_id, opportunity_id), (Activity.owner_id, owner_id), (Activity.kind, kind)):
        if value is not None:
            stmt = stmt.where(col == value)
    if occurred_after:
        stmt = stmt.where(Activity.occurred_at >= occurred_after)
    if occurred_before:
        stmt = stmt.where(Activity.occurred_at < occurred_before)
    stmt = keyset_page(stmt, [Activity.occurred_at, Activity.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.occurred_at.isoformat(), r.id))


async def update_activity(session: AsyncSession, principal: Principal, activity_id: uuid.UUID, data: ActivityUpdate,
                          *, if_match: str | None) -> Activity:
    principal.require(DOMAIN, "write")
    activity = await get_activity(session, principal, activity_id, lock=True)
    check_version(activity.version, if_match)
    before = _activity(activity)
    changes = data.model_dump(exclude_unset=True)
    for key in ("subject", "occurred_at"):
        if key in changes and changes[key] is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"loc": ["body", key], "msg": "required", "type": "value_error"}])
    for key, value in changes.items():
        setattr(activity, key, value)
    activity.version += 1
    await session.flush()
    if activity.lead_id is not None and "occurred_at" in changes:
        await _first_response(session, principal, activity.lead_id)
    after = _activity(activity)
    await record_audit(session, principal, entity_type="activity", entity_id=activity.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="activity.updated", entity_type="activity",
                       entity_id=activity.id, actor_id=principal.actor_id, payload={"activity": after})
    return activity


async def delete_activity(session: AsyncSession, principal: Principal, activity_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require(DOMAIN, "write")
    activity = await get_activity(session, principal, activity_id, lock=True)
    check_version(activity.version, if_match)
    before = _activity(activity)
    await session.delete(activity)
    await session.flush()
    if activity.lead_id is not None:
        await _first_response(session, principal, activity.lead_id)
    await record_audit(session, principal, entity_type="activity", entity_id=activity_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="activity.deleted", entity_type="activity",
                       entity_id=activity_id, actor_id=principal.actor_id, payload={"activity": before})


# ---- tasks ------------------------------------------------------------------------------

async def create_task(session: AsyncSession, principal: Principal, data: TaskCreate) -> Task:
    principal.require(DOMAIN, "write")
    assignee, _ = await resolve_owner(session, principal, data.assignee_id, field="assignee_id", what="tasks")
    await _check_subjects(session, principal, data)
    task = Task(org_id=principal.org_id, assignee_id=assignee, created_by=principal.actor_id, status=TaskStatus.open,
                version=1, **data.model_dump(exclude={"assignee_id"}))
    session.add(task)
    await session.flush()
    await session.refresh(task, ["created_at"])
    after = _task(task)
    await record_audit(session, principal, entity_type="task", entity_id=task.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="task.created", entity_type="task", entity_id=task.id,
                       actor_id=principal.actor_id, payload={"task": after})
    return task


async def get_task(session: AsyncSession, principal: Principal, task_id: uuid.UUID, *, lock: bool = False) -> Task:
    principal.require(DOMAIN, "read")
    return await one_or_404(session, select(Task).where(Task.id == task_id, task_scope(principal)),
                            "No task with that id", lock=lock)


async def list_tasks(session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int,
                     assignee: str | None = None, status: TaskStatus | None = None, due_before: dt.datetime | None = None,
                     due_after: dt.datetime | None = None, lead_id: uuid.UUID | None = None,
                     account_id: uuid.UUID | None = None) -> tuple[list[Task], str | None]:
    principal.require(DOMAIN, "read")
    stmt: Select[Any] = select(Task).where(task_scope(principal))
    if assignee == "me":
        stmt = stmt.where(Task.assignee_id == principal.user_id)
    elif assignee:
        try:
            stmt = stmt.where(Task.assignee_id == uuid.UUID(assignee))
        except ValueError:
            raise Unprocessable("assignee must be 'me' or a user id",
                                errors=[{"loc": ["query", "assignee"], "msg": "invalid", "type": "value_error"}]) from None
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if due_before:
        stmt = stmt.where(Task.due_at < due_before)
    if due_after:
        stmt = stmt.where(Task.due_at >= due_after)
    if lead_id:
        stmt = stmt.where(Task.lead_id == lead_id)
    if account_id:
        stmt = stmt.where(Task.account_id == account_id)
    stmt = keyset_page(stmt, [Task.due_at, Task.id], cursor=cursor, limit=limit)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.due_at.isoformat(), r.id))


async def update_task(session: AsyncSession, principal: Principal, task_id: uuid.UUID, data: TaskUpdate, *,
                      if_match: str | None) -> Task:
    principal.require(DOMAIN, "write")
    task = await get_task(session, principal, task_id, lock=True)
    check_version(task.version, if_match)
    before = _task(task)
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "due_at", "assignee_id", "status"):
        if key in changes and changes[key] is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"loc": ["body", key], "msg": "required", "type": "value_error"}])
    if "assignee_id" in changes:
        await resolve_owner(session, principal, changes["assignee_id"], field="assignee_id", what="tasks")
    for key, value in changes.items():
        setattr(task, key, value)
    if task.remind_at and task.remind_at > task.due_at:
        raise Unprocessable("remind_at must not be after due_at")
    if "due_at" in changes:
        task.due_notified_at = None  # a new due time is announced again
    if "remind_at" in changes:
        task.reminded_at = None
    if "status" in changes:
        task.completed_at = utcnow() if task.status is TaskStatus.done else None
    task.version += 1
    await session.flush()
    after = _task(task)
    await record_audit(session, principal, entity_type="task", entity_id=task.id, action=AuditAction.update,
                       before=before, after=after)
    kind = "task.completed" if changes.get("status") is TaskStatus.done and before["status"] != "done" else "task.updated"
    await record_event(session, org_id=principal.org_id, type=kind, entity_type="task", entity_id=task.id,
                       actor_id=principal.actor_id, payload={"task": after})
    return task


async def delete_task(session: AsyncSession, principal: Principal, task_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require(DOMAIN, "write")
    task = await get_task(session, principal, task_id, lock=True)
    check_version(task.version, if_match)
    before = _task(task)
    await session.delete(task)
    await session.flush()
    await record_audit(session, principal, entity_type="task", entity_id=task_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="task.deleted", entity_type="task", entity_id=task_id,
                       actor_id=principal.actor_id, payload={"task": before})


async def raise_due_tasks(session: AsyncSession, settings: Any) -> int:
    """Worker job: `task.due` once per due time, `task.reminder` once per reminder time.
    Claimed with SKIP LOCKED so several workers never announce a task twice."""
    handled = 0
    for kind, when, stamp in (("task.reminder", Task.remind_at, Task.reminded_at), ("task.due", Task.due_at, Task.due_notified_at)):
        rows = list(await session.scalars(
            select(Task).where(Task.status == TaskStatus.open, when.is_not(None), when <= utcnow(), stamp.is_(None))
            .order_by(when).limit(500).with_for_update(skip_locked=True)
        ))
        for task in rows:
            setattr(task, stamp.key, utcnow())
            await record_event(session, org_id=task.org_id, type=kind, entity_type="task", entity_id=task.id,
                               actor_id=None, payload={"task": _task(task)})
        handled += len(rows)
    await session.flush()
    return handled
