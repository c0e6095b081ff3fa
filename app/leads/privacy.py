"""Personal data of leads and contacts: an admin exports everything held about a person,
or erases it (anonymisation). Erasure keeps what the business figures need (status,
source, dates, scores, conversions and every opportunity amount) and removes what
identifies the person, also from activity notes, event payloads, the audit trail,
stored idempotent responses and per-row import errors.

A person can sit in several records: a lead, the leads merged into it, and the contact
it was converted into. Erasing any of them erases all of them (`_records_of_person`); a
merged duplicate's data is also taken out of its survivor (see `_scrub_survivor`)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import LargeBinary, Text, cast, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Contact
from app.accounts.schemas import ContactOut
from app.activities.models import Activity, Task
from app.core.audit import AuditAction, AuditEntry, record_audit
from app.core.db import utcnow
from app.core.events import Event, jsonable, record_event
from app.core.idempotency import IdempotencyRecord
from app.identity.models import Role
from app.identity.principal import Principal
from app.leads.models import Lead, LeadImportError
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


LEAD_ERASED = ("first_name", "email", "email_normalized", "phone", "phone_normalized", "title", "description")
CONTACT_ERASED = ("first_name", "email", "email_normalized", "phone", "phone_normalized", "title")
# Values searched for outside the person's own records (a survivor's history, cached
# responses). Names are matched only as whole JSON values, never as substrings.
IDENTIFYING = ("email", "email_normalized", "phone", "phone_normalized", "title", "description")


def _scrub(value: Any) -> Any:
    """Personal fields by name (the person's own records and history)."""
    if isinstance(value, dict):
        return {k: (None if k in PERSONAL_FIELDS and v is not None else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _scrub_values(value: Any, secrets: set[str]) -> Any:
    """The person's values wherever they occur (records that only mention the person)."""
    if isinstance(value, dict):
        return {k: _scrub_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_values(v, secrets) for v in value]
    return None if isinstance(value, str) and value in secrets else value


async def _ever_on(session: AsyncSession, org_id: uuid.UUID, model: Any, column: str, subject_id: uuid.UUID) -> set[uuid.UUID]:
    """Activities or tasks on the subject now, and those logged on it and since moved
    (a merge moves a duplicate's activities to the survivor): their events name it."""
    kind = model.__tablename__
    now = set(await session.scalars(select(model.id).where(model.org_id == org_id, getattr(model, column) == subject_id)))
    moved = set(await session.scalars(select(Event.entity_id).where(
        Event.org_id == org_id, Event.entity_type == kind, Event.entity_id.is_not(None),
        Event.payload[kind][column].astext == str(subject_id))))
    return now | moved


async def _scrub_history(session: AsyncSession, org_id: uuid.UUID, column: str, subject_id: uuid.UUID) -> None:
    activity_ids = await _ever_on(session, org_id, Activity, column, subject_id)
    task_ids = await _ever_on(session, org_id, Task, column, subject_id)
    entity_ids = [subject_id, *activity_ids, *task_ids]
    await session.execute(update(Activity).where(Activity.org_id == org_id, Activity.id.in_(activity_ids))
                          .values(body=None, subject=ERASED))
    await session.execute(update(Task).where(Task.org_id == org_id, Task.id.in_(task_ids))
                          .values(description=None))
    # The person's data also sits in the history of their activities and tasks.
    for event in await session.scalars(select(Event).where(Event.org_id == org_id, Event.entity_id.in_(entity_ids))):
        event.payload = _scrub(event.payload)
    for entry in await session.scalars(select(AuditEntry).where(AuditEntry.org_id == org_id,
                                                                 AuditEntry.entity_id.in_(entity_ids))):
        entry.changes = {k: ({"before": None, "after": None} if k in PERSONAL_FIELDS else v) for k, v in entry.changes.items()}
    await session.flush()


async def _records_of_person(session: AsyncSession, org_id: uuid.UUID, *, lead_ids: set[uuid.UUID],
                             contact_ids: set[uuid.UUID]) -> tuple[list[Lead], list[Contact]]:
    """The lead(s) and contact(s) holding one person, locked: the leads merged into a lead
    (a merge says they are the same person), the contact a lead was converted into and the
    lead a contact came from, followed until nothing new turns up."""
    leads: dict[uuid.UUID, Lead] = {}
    contacts: dict[uuid.UUID, Contact] = {}
    while True:
        found = list(await session.scalars(
            select(Lead).where(Lead.org_id == org_id, or_(Lead.id.in_(lead_ids), Lead.merged_into_id.in_(lead_ids),
                                                          Lead.converted_contact_id.in_(contact_ids)))
            .order_by(Lead.id).with_for_update()))
        leads.update({lead.id: lead for lead in found})
        contact_ids |= {lead.converted_contact_id for lead in found if lead.converted_contact_id}
        contacts.update({c.id: c for c in await session.scalars(
            select(Contact).where(Contact.org_id == org_id, Contact.id.in_(contact_ids)).order_by(Contact.id).with_for_update())})
        if set(leads) == lead_ids and set(contacts) == contact_ids:
            return list(leads.values()), list(contacts.values())
        lead_ids, contact_ids = set(leads), set(contacts)


def _secrets(records: list[Any]) -> set[str]:
    """The identifying values of the records, taken before they are blanked."""
    found: set[str] = set()
    # A contact converted from a lead without a last name carries the company (or "-")
    # there: that is the account's data, not the person's.
    not_names = {ERASED, "-", *(c for r in records if (c := getattr(r, "company", None)))}
    for record in records:
        found |= {v for name in IDENTIFYING if (v := getattr(record, name, None))}
        # A phone also as bare digits, as people type it into a spreadsheet cell.
        digits = (re.sub(r"\D", "", getattr(record, name) or "") for name in ("phone", "phone_normalized"))
        found |= {d for d in digits if len(d) >= 7}
        names = [n for n in (record.first_name, record.last_name) if n and n not in not_names]
        if names:
            found |= {" ".join(names), "".join(reversed(names)), *names}
    return found


async def _scrub_survivor(session: AsyncSession, principal: Principal, dup: Lead) -> None:
    """A merged duplicate's data lives on in its survivor: the snapshot in `lead.merged`,
    and the fields the survivor filled from it (`filled_fields`). Those still holding the
    duplicate's value are blanked; the survivor's own data stays."""
    survivor = await session.scalar(select(Lead).where(Lead.org_id == principal.org_id, Lead.id == dup.merged_into_id)
                                    .with_for_update())
    if survivor is None or survivor.erased_at is not None:
        return
    filled: set[str] = set()
    for event in await session.scalars(select(Event).where(
            Event.org_id == principal.org_id, Event.entity_id == survivor.id, Event.type == "lead.merged",
            Event.payload["merged"]["id"].astext == str(dup.id))):
        filled |= set(event.payload.get("filled_fields") or ())
    blanked = sorted(name for name in filled & set(LEAD_ERASED) | ({"last_name"} & filled)
                     if getattr(survivor, name) is not None and getattr(survivor, name) == getattr(dup, name))
    if not blanked:
        return
    for name in blanked:
        setattr(survivor, name, None)
    if not (survivor.first_name or survivor.last_name or survivor.company):
        survivor.last_name = ERASED  # a lead needs a name or a company
    survivor.version += 1
    await session.flush()
    await session.refresh(survivor, ["updated_at"])
    await record_audit(session, principal, entity_type="lead", entity_id=survivor.id, action=AuditAction.state_change,
                       before={"erased_fields": None}, after={"erased_fields": blanked})
    await record_event(session, org_id=principal.org_id, type="lead.updated", entity_type="lead", entity_id=survivor.id,
                       actor_id=principal.actor_id, payload={"lead": snapshot(survivor), "changed": blanked})


async def _scrub_mentions(session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID], owners: list[uuid.UUID],
                          secrets: set[str]) -> None:
    """History that is not the person's own but mentions them: events naming one of their
    ids (a survivor's `lead.merged`, an activity moved by a merge) and the events and audit
    trail of the leads they were merged into (later snapshots hold the values the survivor
    took over). Their values are removed; everything else stays."""
    mentions = [cast(Event.payload, Text).contains(str(i), autoescape=True) for i in ids]
    for event in await session.scalars(select(Event).where(Event.org_id == org_id,
                                                           or_(Event.entity_id.in_(owners), *mentions))):
        payload = _scrub_values(event.payload, secrets)
        if event.type == "lead.merged" and str((payload.get("merged") or {}).get("id")) in {str(i) for i in ids}:
            payload["merged"] = _scrub(payload["merged"])
        if payload != event.payload:
            event.payload = payload
    audit_mentions = [cast(AuditEntry.changes, Text).contains(str(i), autoescape=True) for i in ids]
    for entry in await session.scalars(select(AuditEntry).where(
            AuditEntry.org_id == org_id, or_(AuditEntry.entity_id.in_(owners), *audit_mentions))):
        changes = _scrub_values(entry.changes, secrets)
        if changes != entry.changes:
            entry.changes = changes
    await session.flush()


def _like_pattern(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _needles(ids: list[uuid.UUID], secrets: set[str]) -> list[str]:
    """What a substring search looks for: the ids, and the values long enough not to match
    unrelated text by chance."""
    return [str(i) for i in ids] + sorted(s for s in secrets if len(s) >= 5)


def _bytes_like(needle: str) -> Any:
    return IdempotencyRecord.response_body.op("LIKE")(literal(_like_pattern(needle).encode(), LargeBinary))


async def _forget_responses(session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID], secrets: set[str]) -> None:
    """A stored idempotent response (kept 24 h) may hold the person's data and would be
    replayed as it was. The record stays, so a retry still cannot repeat the change, but
    its body is dropped: the retry gets 409 idempotency-response-unavailable."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.response_body.is_not(None),
               or_(*(_bytes_like(n) for n in _needles(ids, secrets))))
        .values(status_code=None, response_headers=None, response_body=None))


async def _scrub_import_errors(session: AsyncSession, org_id: uuid.UUID, secrets: set[str]) -> None:
    """A per-row import error quotes the offending cell (`'…' is not a valid email
    address`), which may hold the person's email or phone next to values of theirs we
    cannot recognise (a second address in the same cell). Such a message is replaced as a
    whole; the row number and code stay, so the import's report still adds up."""
    needles = _needles([], secrets)
    if needles:
        await session.execute(
            update(LeadImportError)
            .where(LeadImportError.org_id == org_id,
                   or_(*(LeadImportError.message.ilike(_like_pattern(n), escape="\\") for n in needles)))
            .values(message=ERASED))


async def _erase_person(session: AsyncSession, principal: Principal, leads: list[Lead], contacts: list[Contact]) -> None:
    org_id = principal.org_id
    secrets = _secrets([*leads, *contacts])
    # A merged duplicate whose survivor is not being erased: take its data out of the survivor.
    for lead in leads:
        if lead.merged_into_id and lead.merged_into_id not in {x.id for x in leads}:
            await _scrub_survivor(session, principal, lead)
    for lead in leads:
        await _scrub_history(session, org_id, "lead_id", lead.id)
    for contact in contacts:
        await _scrub_history(session, org_id, "contact_id", contact.id)
    ids = [x.id for x in (*leads, *contacts)]
    owners = [lead.merged_into_id for lead in leads if lead.merged_into_id]
    await _scrub_mentions(session, org_id, ids, owners, secrets)
    await _forget_responses(session, org_id, ids, secrets)
    await _scrub_import_errors(session, org_id, secrets)
    # Records erased before (e.g. by an older version) get their history scrubbed again
    # above, but only newly erased ones are blanked, versioned and announced.
    now = utcnow()
    for record, kind, fields in [*((x, "lead", LEAD_ERASED) for x in leads),
                                 *((x, "contact", CONTACT_ERASED) for x in contacts)]:
        if record.erased_at is not None:
            continue
        for name in fields:
            setattr(record, name, None)
        record.last_name, record.erased_at = ERASED, now
        record.version += 1
        await session.flush()
        await session.refresh(record, ["updated_at"])
        await record_audit(session, principal, entity_type=kind, entity_id=record.id, action=AuditAction.state_change,
                           before={"erased": False}, after={"erased": True})
        await record_event(session, org_id=org_id, type=f"{kind}.erased", entity_type=kind, entity_id=record.id,
                           actor_id=principal.actor_id, payload={f"{kind}_id": record.id, "erased_at": now})


async def erase_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> Lead:
    principal.require_role(Role.admin)
    lead = await get_lead(session, principal, lead_id, lock=True)
    await _erase_person(session, principal, *await _records_of_person(
        session, principal.org_id, lead_ids={lead.id}, contact_ids=set()))
    return lead


async def erase_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> Contact:
    from app.accounts.service import get_contact

    principal.require_role(Role.admin)
    contact = await get_contact(session, principal, contact_id, lock=True)
    await _erase_person(session, principal, *await _records_of_person(
        session, principal.org_id, lead_ids=set(), contact_ids={contact.id}))
    return contact
