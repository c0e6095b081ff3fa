"""Personal data of leads and contacts: an admin exports everything held about a person,
or erases it (anonymisation). Erasure keeps what the business figures need (status,
source, dates, scores, conversions and every opportunity amount) and removes what
identifies the person, also from activity notes, event payloads and the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Contact
from app.accounts.schemas import ContactOut
from app.activities.models import Activity, Task
from app.core.audit import AuditAction, AuditEntry, record_audit
from app.core.db import utcnow
from app.core.events import Event, jsonable, record_event
from app.identity.models import Role
from app.identity.principal import Principal
from app.leads.models import Lead
from app.leads.schemas import PersonalDataExport
from app.leads.service import get_lead, snapshot

PERSONAL_FIELDS = {"first_name", "last_name", "email", "email_normalized", "phone", "phone_normalized", "title",
                   "description", "name", "body", "subject"}
ERASED = "[erased]"


def _row(obj: Any, columns: list[str]) -> dict[str, Any]:
    return jsonable({c: getattr(obj, c) for c in columns})


async def _related(session: AsyncSession, org_id: uuid.UUID, column: str, subject_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    acts = await session.scalars(select(Activity).where(Activity.org_id == org_id, getattr(Activity, column) == subject_id)
                                 .order_by(Activity.occurred_at, Activity.id))
    tasks = await session.scalars(select(Task).where(Task.org_id == org_id, getattr(Task, column) == subject_id)
                                  .order_by(Task.due_at, Task.id))
    audit = await session.scalars(select(AuditEntry).where(AuditEntry.org_id == org_id, AuditEntry.entity_id == subject_id)
                                  .order_by(AuditEntry.occurred_at, AuditEntry.id))
    events = await session.scalars(select(Event).where(Event.org_id == org_id, Event.entity_id == subject_id)
                                   .order_by(Event.seq))
    return {
        "activities": [_row(a, ["id", "kind", "subject", "body", "occurred_at", "owner_id"]) for a in acts],
        "tasks": [_row(t, ["id", "title", "description", "due_at", "status", "assignee_id"]) for t in tasks],
        "audit": [_row(a, ["id", "action", "changes", "actor_id", "occurred_at"]) for a in audit],
        "events": [_row(e, ["seq", "type", "payload", "created_at"]) for e in events],
    }


async def export_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> PersonalDataExport:
    principal.require_role(Role.admin)
    lead = await get_lead(session, principal, lead_id)
    related = await _related(session, principal.org_id, "lead_id", lead.id)
    return PersonalDataExport(subject_type="lead", subject=snapshot(lead), exported_at=utcnow(), **related)


async def export_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> PersonalDataExport:
    from app.accounts.service import get_contact

    principal.require_role(Role.admin)
    contact = await get_contact(session, principal, contact_id)
    related = await _related(session, principal.org_id, "contact_id", contact.id)
    return PersonalDataExport(subject_type="contact", subject=ContactOut.model_validate(contact).model_dump(mode="json"),
                              exported_at=utcnow(), **related)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k in PERSONAL_FIELDS and v is not None else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


async def _scrub_history(session: AsyncSession, org_id: uuid.UUID, column: str, subject_id: uuid.UUID) -> None:
    activity_ids = list(await session.scalars(select(Activity.id).where(
        Activity.org_id == org_id, getattr(Activity, column) == subject_id)))
    task_ids = list(await session.scalars(select(Task.id).where(Task.org_id == org_id, getattr(Task, column) == subject_id)))
    entity_ids = [subject_id, *activity_ids, *task_ids]
    await session.execute(update(Activity).where(Activity.org_id == org_id, getattr(Activity, column) == subject_id)
                          .values(body=None, subject=ERASED))
    await session.execute(update(Task).where(Task.org_id == org_id, getattr(Task, column) == subject_id)
                          .values(description=None))
    # The person's data also sits in the history of their activities and tasks.
    for event in await session.scalars(select(Event).where(Event.org_id == org_id, Event.entity_id.in_(entity_ids))):
        event.payload = _scrub(event.payload)
    for entry in await session.scalars(select(AuditEntry).where(AuditEntry.org_id == org_id,
                                                                 AuditEntry.entity_id.in_(entity_ids))):
        entry.changes = {k: ({"before": None, "after": None} if k in PERSONAL_FIELDS else v) for k, v in entry.changes.items()}
    await session.flush()


async def erase_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> Lead:
    principal.require_role(Role.admin)
    lead = await get_lead(session, principal, lead_id, lock=True)
    if lead.erased_at is None:
        await _scrub_history(session, principal.org_id, "lead_id", lead.id)
        for name in ("first_name", "email", "email_normalized", "phone", "phone_normalized", "title", "description"):
            setattr(lead, name, None)
        lead.last_name = ERASED
        lead.erased_at = utcnow()
        lead.version += 1
        await session.flush()
        await session.refresh(lead, ["updated_at"])
        await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.state_change,
                           before={"erased": False}, after={"erased": True})
        await record_event(session, org_id=principal.org_id, type="lead.erased", entity_type="lead", entity_id=lead.id,
                           actor_id=principal.actor_id, payload={"lead_id": lead.id, "erased_at": lead.erased_at})
    return lead


async def erase_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> Contact:
    from app.accounts.service import get_contact

    principal.require_role(Role.admin)
    contact = await get_contact(session, principal, contact_id, lock=True)
    if contact.erased_at is None:
        await _scrub_history(session, principal.org_id, "contact_id", contact.id)
        for name in ("first_name", "email", "email_normalized", "phone", "phone_normalized", "title"):
            setattr(contact, name, None)
        contact.last_name = ERASED
        contact.erased_at = utcnow()
        contact.version += 1
        # The lead this contact came from holds the same person.
        await session.execute(update(Lead).where(Lead.org_id == principal.org_id, Lead.converted_contact_id == contact.id,
                                                 or_(Lead.erased_at.is_(None)))
                              .values(first_name=None, last_name=ERASED, email=None, email_normalized=None, phone=None,
                                      phone_normalized=None, title=None, description=None, erased_at=utcnow(),
                                      version=Lead.version + 1))
        await session.flush()
        await session.refresh(contact, ["updated_at"])
        await record_audit(session, principal, entity_type="contact", entity_id=contact.id, action=AuditAction.state_change,
                           before={"erased": False}, after={"erased": True})
        await record_event(session, org_id=principal.org_id, type="contact.erased", entity_type="contact",
                           entity_id=contact.id, actor_id=principal.actor_id,
                           payload={"contact_id": contact.id, "erased_at": contact.erased_at})
    return contact
