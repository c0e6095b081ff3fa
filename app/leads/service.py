"""Lead commands and queries. Every query goes through `lead_scope` (tenant + visibility)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import account_scope, contact_scope
from app.activities.models import Activity, Task
from app.core.audit import AuditAction, record_audit
from app.core.config import get_settings
from app.core.db import one_or_404, utcnow
from app.core.errors import Conflict, Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.identity.models import Role
from app.identity.owners import resolve_owner
from app.identity.principal import Principal, visible_owner_clause
from app.leads import assignment, duplicates, scoring
from app.leads.models import Lead, LeadStatus
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer
from app.leads.schemas import DuplicateMatch, LeadCreate, LeadOut, LeadUpdate

DOMAIN = "leads"


def lead_scope(principal: Principal) -> ColumnElement[bool]:
    """Tenant and visibility: reps their own leads; managers their team's and the
    unassigned queue; admins, viewers and API keys the whole organisation."""
    visible = visible_owner_clause(principal, Lead.owner_id)
    if principal.kind == "user" and principal.role is Role.manager:
        visible = or_(visible, Lead.owner_id.is_(None))
    return (Lead.org_id == principal.org_id) & visible


def _visible_to(principal: Principal) -> dict[str, ColumnElement[bool]]:
    """Duplicate matches show names and owners only of records the principal can see."""
    return {"lead_visible": lead_scope(principal), "contact_visible": contact_scope(principal),
            "account_visible": account_scope(principal)}


def snapshot(lead: Lead) -> dict[str, Any]:
    return LeadOut.model_validate(lead).model_dump(mode="json")


async def _record_update(session: AsyncSession, principal: Principal, lead: Lead, before: dict[str, Any]) -> None:
    """Audit entry and `lead.updated` event (with the changed fields) for a flushed change."""
    await session.refresh(lead, ["updated_at"])
    after = snapshot(lead)
    await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="lead.updated", entity_type="lead", entity_id=lead.id,
                       actor_id=principal.actor_id,
                       payload={"lead": after, "changed": sorted(k for k in after if after[k] != before.get(k))})


async def get_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, *, lock: bool = False) -> Lead:
    principal.require(DOMAIN, "read")
    return await one_or_404(session, select(Lead).where(Lead.id == lead_id, lead_scope(principal)),
                            "No lead with that id", lock=lock)


def _normalise_into(lead: Lead, fields: dict[str, Any]) -> None:
    """Set contact fields and their normalised twins; bad email/phone is a 422."""
    errors = []
    if "email" in fields:
        norm, ok = normalize_email(fields["email"])
        if not ok:
            errors.append({"loc": ["body", "email"], "msg": "not a valid email address", "type": "value_error"})
        lead.email, lead.email_normalized = (fields["email"] or None), norm
    if "phone" in fields:
        region = get_settings().default_phone_region
        norm, ok = phone_normalizer(region)(fields["phone"])
        if not ok:
            errors.append({"loc": ["body", "phone"], "msg": f"not a valid phone number (default region {region})",
                           "type": "value_error"})
        lead.phone, lead.phone_normalized = (fields["phone"] or None), norm
    if "company" in fields:
        lead.company, lead.company_normalized = fields["company"] or None, normalize_company(fields["company"])
    if errors:
        raise Unprocessable("Invalid contact data", errors=errors)


async def create_lead(session: AsyncSession, principal: Principal, data: LeadCreate, *,
                      allow_duplicates: bool = False) -> tuple[Lead, list[DuplicateMatch]]:
    principal.require(DOMAIN, "write")
    if data.owner_id is not None:
        await resolve_owner(session, principal, data.owner_id, what="leads")
    values = data.model_dump(exclude={"owner_id", "email", "phone", "company"})
    lead = Lead(org_id=principal.org_id, status=LeadStatus.new, version=1, **values)
    _normalise_into(lead, {"email": data.email, "phone": data.phone, "company": data.company})
    if not allow_duplicates:  # until commit, nobody else creates a lead with this email or phone
        await duplicates.lock_keys(session, principal.org_id, email=lead.email_normalized, phone=lead.phone_normalized)
    matches = await duplicates.find(session, principal.org_id, email=lead.email_normalized,
                                    phone=lead.phone_normalized, company=lead.company_normalized,
                                    **_visible_to(principal))
    if not allow_duplicates:
        duplicates.raise_if_blocking(matches)
    session.add(lead)
    await session.flush()
    await scoring.rescore(session, principal.org_id, lead=lead)
    # Owner: explicit; else a rep owns what they enter; else the routing rules.
    if data.owner_id is not None:
        owner, rule_id = data.owner_id, None
    elif principal.kind == "user" and principal.role is Role.rep:
        owner, rule_id = principal.user_id, None
    else:
        owner, rule_id = await assignment.route(session, lead)
    lead.owner_id, lead.assigned_by_rule_id = owner, rule_id
    lead.assigned_at = utcnow() if owner else None
    await session.flush()
    await session.refresh(lead, ["created_at", "updated_at"])
    after = snapshot(lead)
    await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="lead.created", entity_type="lead", entity_id=lead.id,
                       actor_id=principal.actor_id, payload={"lead": after})
    await record_event(
        session, org_id=principal.org_id, type="lead.assigned" if owner else "lead.queued", entity_type="lead",
        entity_id=lead.id, actor_id=principal.actor_id,
        payload={"lead_id": lead.id, "owner_id": owner, "previous_owner_id": None, "rule_id": rule_id,
                 "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
                 "company": lead.company, "source": lead.source, "grade": lead.grade, "score": lead.score},
    )
    return lead, [m for m in matches if not m.blocking]


async def list_leads(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int,
    status: LeadStatus | None = None, source: str | None = None, campaign: str | None = None,
    grade: str | None = None, owner: str | None = None, q: str | None = None,
    created_after: dt.datetime | None = None, created_before: dt.datetime | None = None,
    include_merged: bool = False,
) -> tuple[list[Lead], str | None]:
    principal.require(DOMAIN, "read")
    stmt: Select[Any] = select(Lead).where(lead_scope(principal))
    if not include_merged:
        stmt = stmt.where(Lead.merged_into_id.is_(None))
    if status is not None:
        stmt = stmt.where(Lead.status == status)
    if source:
        stmt = stmt.where(Lead.source == source)
    if campaign:
        stmt = stmt.where(Lead.campaign == campaign)
    if grade:
        stmt = stmt.where(Lead.grade == grade)
    if owner == "me":
        stmt = stmt.where(Lead.owner_id == principal.user_id)
    elif owner == "unassigned":
        stmt = stmt.where(Lead.owner_id.is_(None))
    elif owner:
        try:
            stmt = stmt.where(Lead.owner_id == uuid.UUID(owner))
        except ValueError:
            raise Unprocessable("owner must be 'me', 'unassigned' or a user id",
                                errors=[{"loc": ["query", "owner"], "msg": "invalid", "type": "value_error"}]) from None
    if q:
        # Substring search works the same for 张伟 and for Zhang Wei; email/phone by prefix.
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(
            func.concat_ws(" ", Lead.first_name, Lead.last_name).ilike(pattern, escape="\\"),
            func.concat(Lead.last_name, Lead.first_name).ilike(pattern, escape="\\"),
            Lead.company.ilike(pattern, escape="\\"),
            Lead.email_normalized.ilike(pattern, escape="\\"),
            Lead.phone.ilike(pattern, escape="\\"),
        ))
    if created_after:
        stmt = stmt.where(Lead.created_at >= created_after)
    if created_before:
        stmt = stmt.where(Lead.created_at < created_before)
    stmt = keyset_page(stmt, [Lead.created_at, Lead.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


async def update_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, data: LeadUpdate, *,
                      if_match: str | None, allow_duplicates: bool = False) -> Lead:
    principal.require(DOMAIN, "write")
    lead = await get_lead(session, principal, lead_id, lock=True)
    check_version(lead.version, if_match)
    if lead.status in (LeadStatus.converted,) or lead.merged_into_id or lead.erased_at:
        raise Conflict("A converted, merged or erased lead cannot be edited")
    before = snapshot(lead)
    changes = data.model_dump(exclude_unset=True)
    contact = {k: changes.pop(k) for k in ("email", "phone", "company") if k in changes}
    for key in ("source",):
        if key in changes and changes[key] is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"loc": ["body", key], "msg": "required", "type": "value_error"}])
    if "status" in changes and changes["status"] is None:
        changes.pop("status")
    if lead.status is LeadStatus.disqualified and "status" in changes:
        lead.disqualify_reason = None  # re-opened
    for key, value in changes.items():
        setattr(lead, key, value)
    _normalise_into(lead, contact)
    if not (lead.first_name or lead.last_name or lead.company):
        raise Unprocessable("a lead needs a name or a company")
    if contact and not allow_duplicates:
        await duplicates.lock_keys(session, principal.org_id, email=lead.email_normalized, phone=lead.phone_normalized)
        matches = await duplicates.find(session, principal.org_id, email=lead.email_normalized,
                                        phone=lead.phone_normalized, company=None, exclude_id=lead.id,
                                        **_visible_to(principal))
        duplicates.raise_if_blocking(matches)
    lead.version += 1
    await session.flush()
    await scoring.rescore(session, principal.org_id, lead=lead)
    await _record_update(session, principal, lead, before)
    return lead


async def delete_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require(DOMAIN, "write")
    lead = await get_lead(session, principal, lead_id, lock=True)
    check_version(lead.version, if_match)
    if lead.status is LeadStatus.converted:
        raise Conflict("A converted lead is part of the deal's history and cannot be deleted")
    # History is kept, not cascaded away: a merged duplicate would come back into the lists
    # (merged_into_id is SET NULL) and logged activities would vanish (CASCADE).
    if lead.merged_into_id:
        raise Conflict("A merged lead is part of its survivor's history and cannot be deleted")
    if await session.scalar(select(Lead.id).where(Lead.org_id == principal.org_id, Lead.merged_into_id == lead.id).limit(1)):
        raise Conflict("Other leads are merged into this lead; it holds their history and cannot be deleted "
                       "(disqualify it instead)")
    if await session.scalar(select(Activity.id).where(Activity.org_id == principal.org_id, Activity.lead_id == lead.id)
                            .limit(1)):
        raise Conflict("The lead has logged activities; it cannot be deleted without losing them (disqualify it instead)")
    before = snapshot(lead)
    await session.delete(lead)
    await session.flush()
    await record_audit(session, principal, entity_type="lead", entity_id=lead_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="lead.deleted", entity_type="lead", entity_id=lead_id,
                       actor_id=principal.actor_id, payload={"lead": before})


async def disqualify(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, reason: str, *,
                     if_match: str | None) -> Lead:
    principal.require(DOMAIN, "write")
    lead = await get_lead(session, principal, lead_id, lock=True)
    check_version(lead.version, if_match)
    if lead.status in (LeadStatus.converted, LeadStatus.disqualified) or lead.merged_into_id:
        raise Conflict(f"The lead is {lead.status.value}" + (" (merged)" if lead.merged_into_id else ""))
    before = lead.status
    lead.status, lead.disqualify_reason = LeadStatus.disqualified, reason
    lead.version += 1
    await session.flush()
    await session.refresh(lead, ["updated_at"])
    await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.state_change,
                       before={"status": before.value}, after={"status": "disqualified", "disqualify_reason": reason})
    await record_event(session, org_id=principal.org_id, type="lead.disqualified", entity_type="lead", entity_id=lead.id,
                       actor_id=principal.actor_id, payload={"lead": snapshot(lead), "reason": reason})
    return lead


async def assign(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, owner_id: uuid.UUID | None, *,
                 if_match: str | None) -> Lead:
    principal.require(DOMAIN, "write")
    if principal.kind == "user" and principal.role is Role.rep:
        principal.require_role(Role.admin, Role.manager)
    lead = await get_lead(session, principal, lead_id, lock=True)
    check_version(lead.version, if_match)
    if lead.status is LeadStatus.converted or lead.merged_into_id:
        raise Conflict("A converted or merged lead cannot be reassigned")
    if owner_id is not None:
        await resolve_owner(session, principal, owner_id, what="leads")
        rule_id = None
    else:
        owner_id, rule_id = await assignment.route(session, lead)
    lead.version += 1
    await assignment.apply_owner(session, principal, lead, owner_id, rule_id, actor_id=principal.actor_id)
    await session.refresh(lead, ["updated_at"])
    return lead


async def list_duplicates(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> list[DuplicateMatch]:
    lead = await get_lead(session, principal, lead_id)
    return await duplicates.find(session, principal.org_id, email=lead.email_normalized, phone=lead.phone_normalized,
                                 company=lead.company_normalized, exclude_id=lead.id, **_visible_to(principal))


MERGE_FILLS = ("first_name", "last_name", "email", "email_normalized", "phone", "phone_normalized", "title", "company",
               "company_normalized", "company_size", "region", "product_interest", "campaign", "description",
               "first_response_at")


async def merge(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, duplicate_id: uuid.UUID, *,
                if_match: str | None) -> Lead:
    """Merge `duplicate_id` into `lead_id`: the survivor fills its empty fields from the
    duplicate, takes over its activities and tasks; the duplicate stays readable with
    merged_into_id (history), leaves the lists, and both sides are audited."""
    principal.require(DOMAIN, "write")
    if lead_id == duplicate_id:
        raise Unprocessable("A lead cannot be merged into itself")
    # Lock both in id order so two opposite merges cannot deadlock.
    first, second = sorted([lead_id, duplicate_id])
    locked = {lid: await get_lead(session, principal, lid, lock=True) for lid in (first, second)}
    lead, dup = locked[lead_id], locked[duplicate_id]
    check_version(lead.version, if_match)
    for item in (lead, dup):
        if item.merged_into_id or item.status is LeadStatus.converted or item.erased_at:
            raise Conflict("Converted, erased or already merged leads cannot be merged")
    before, dup_before = snapshot(lead), snapshot(dup)
    filled = []
    for name in MERGE_FILLS:
        if getattr(lead, name) is None and getattr(dup, name) is not None:
            setattr(lead, name, getattr(dup, name))
            filled.append(name)
    if dup.first_response_at and lead.first_response_at and dup.first_response_at < lead.first_response_at:
        lead.first_response_at = dup.first_response_at
    moved = await session.execute(update(Activity).where(Activity.org_id == principal.org_id, Activity.lead_id == dup.id)
                                  .values(lead_id=lead.id))
    await session.execute(update(Task).where(Task.org_id == principal.org_id, Task.lead_id == dup.id).values(lead_id=lead.id))
    dup.merged_into_id = lead.id
    dup.version += 1
    lead.version += 1
    await session.flush()
    await scoring.rescore(session, principal.org_id, lead=lead)
    await session.refresh(lead, ["updated_at"])
    await session.refresh(dup, ["updated_at"])
    after = snapshot(lead)
    await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.update,
                       before=before, after=after)
    await record_audit(session, principal, entity_type="lead", entity_id=dup.id, action=AuditAction.state_change,
                       before={"merged_into_id": None}, after={"merged_into_id": str(lead.id)})
    await record_event(session, org_id=principal.org_id, type="lead.merged", entity_type="lead", entity_id=lead.id,
                       actor_id=principal.actor_id,
                       payload={"lead": after, "merged": dup_before, "filled_fields": filled,
                                "activities_moved": moved.rowcount or 0})
    return lead


async def set_first_response(session: AsyncSession, principal: Principal, lead_id: uuid.UUID,
                             earliest_activity: Select[tuple[dt.datetime | None]]) -> None:
    """The first-response time is the lead's earliest activity (`earliest_activity`, from the
    activities service; None: none left), read after the lock so activities logged at the
    same moment by others are seen; the first activity also makes a new lead contacted (a
    deleted activity never makes it new again: somebody did talk to the person). A change
    of the lead like any other: a new version (a client holding the old ETag gets a 412
    instead of writing the status back), audited, and a lead.updated event."""
    lead = await session.scalar(
        # NO KEY UPDATE, the lock an UPDATE takes: compatible with the KEY SHARE lock each new
        # activity's foreign key holds, so two activities logged at once cannot deadlock.
        select(Lead).where(Lead.org_id == principal.org_id, Lead.id == lead_id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)  # FOR NO KEY UPDATE
    )
    if lead is None:
        return
    first = await session.scalar(earliest_activity)
    contacted = first is not None and lead.status is LeadStatus.new
    if lead.first_response_at == first and not contacted:
        return
    before = snapshot(lead)
    lead.first_response_at = first
    if contacted:
        lead.status = LeadStatus.contacted
    lead.version += 1
    await session.flush()
    await _record_update(session, principal, lead, before)
