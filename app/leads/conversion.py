"""Lead conversion: account (created or linked), contact and an opportunity in the first
stage of the chosen pipeline, in one transaction, with the conversion recorded on the lead
(converted_at and the three ids) for lead-to-opportunity analytics."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as account_service
from app.accounts.models import Account, Contact
from app.accounts.schemas import ContactUpdate
from app.core.audit import AuditAction, record_audit
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.identity.principal import Principal
from app.leads.models import Lead, LeadStatus
from app.leads.normalize import normalize_company
from app.leads.schemas import ConvertRequest
from app.leads.service import get_lead, snapshot
from app.pipelines.schemas import OpportunityCreate
from app.pipelines.service import create_opportunity


def _field_error(field: str, msg: str) -> Unprocessable:
    return Unprocessable(msg, errors=[{"loc": ["body", field], "msg": msg, "type": "value_error"}])


async def convert(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, data: ConvertRequest, *,
                  if_match: str | None, at: dt.datetime | None = None) -> dict[str, Any]:
    """`at` back-dates the conversion (and the deal's creation) for historical data: the demo
    seed, imports. Never from a request; like a deal's past created_at, administrators only."""
    principal.require("leads", "write")
    principal.require("opportunities", "write")
    lead = await get_lead(session, principal, lead_id, lock=True)
    check_version(lead.version, if_match)
    if lead.merged_into_id or lead.erased_at:
        raise Conflict("A merged or erased lead cannot be converted")
    if lead.status in (LeadStatus.converted, LeadStatus.disqualified):
        raise Conflict(f"The lead is already {lead.status.value}")
    owner_id = lead.owner_id or principal.user_id
    if owner_id is None:
        raise Conflict("Assign the lead to a rep before converting it")
    if at is not None and at < lead.created_at:
        raise Unprocessable("A lead cannot be converted before it was created")

    created_account = data.account_id is None
    if data.account_id is not None:
        account = await account_service.get_account(session, principal, data.account_id, not_found=_field_error(
            "account_id", "No such account"))
    else:
        if not lead.company:
            raise _field_error("account_id", "The lead has no company: pass account_id to link an account")
        # Reuse an account the caller can see with the same normalised name rather than
        # creating a twin; an account hidden from the caller is left alone and a new one made.
        account = await session.scalar(
            select(Account).where(account_service.account_scope(principal),
                                  Account.name_normalized == normalize_company(lead.company)).order_by(Account.id).limit(1)
        )
        created_account = account is None
        if account is None:
            account = await account_service.insert_account(session, principal, owner_id=owner_id, values={
                "name": lead.company, "size": lead.company_size, "region": lead.region})
    contact = await _existing_contact(session, principal, lead, account.id)
    created_contact = contact is None
    if contact is None:
        contact = await account_service.insert_contact(session, principal, owner_id=owner_id, values={
            "account_id": account.id, "first_name": lead.first_name, "last_name": lead.last_name or lead.company or "-",
            "email": lead.email, "phone": lead.phone, "title": lead.title,
        }, normalised={"email_normalized": lead.email_normalized, "phone_normalized": lead.phone_normalized})
    elif contact.account_id is None:
        contact = await account_service.update_contact(session, principal, contact.id,
                                                       ContactUpdate(account_id=account.id), if_match=None)
    name = data.opportunity_name or f"{account.name} - {lead.product_interest or 'new deal'}"
    currency = data.currency or get_settings().default_currency
    opp = await create_opportunity(session, principal, OpportunityCreate(
        name=name[:300], pipeline_id=data.pipeline_id, account_id=account.id, owner_id=owner_id, amount=data.amount,
        currency=currency, expected_close_date=data.expected_close_date, source=lead.source, created_at=at,
    ), lead_id=lead.id)
    before = snapshot(lead)
    now = at or utcnow()
    lead.status = LeadStatus.converted
    lead.converted_at = now
    lead.converted_account_id, lead.converted_contact_id, lead.converted_opportunity_id = account.id, contact.id, opp.id
    if lead.owner_id is None:
        lead.owner_id = owner_id
    lead.version += 1
    await session.flush()
    await session.refresh(lead, ["updated_at", "created_at"])
    after = snapshot(lead)
    await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.state_change,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="lead.converted", entity_type="lead", entity_id=lead.id,
                       actor_id=principal.actor_id, payload={
                           "lead": after, "account_id": account.id, "account_created": created_account,
                           "contact_id": contact.id, "contact_created": created_contact, "opportunity_id": opp.id, "pipeline_id": opp.pipeline_id,
                           "stage_id": opp.stage_id, "amount": data.amount, "currency": currency,
                           "seconds_to_convert": int((now - lead.created_at).total_seconds()),
                       })
    return {"lead": lead, "account_id": account.id, "contact_id": contact.id, "opportunity_id": opp.id,
            "account_created": created_account, "contact_created": created_contact, "stage_id": opp.stage_id, "pipeline_id": opp.pipeline_id}


async def _existing_contact(session: AsyncSession, principal: Principal, lead: Lead,
                            account_id: uuid.UUID) -> Contact | None:
    """The person may already be a contact (a lead created with allow_duplicates, a second
    lead from one buyer): reuse a visible contact with the lead's normalised email (else
    phone) that is at this account or at none, rather than creating a twin."""
    key = (Contact.email_normalized == lead.email_normalized if lead.email_normalized
           else Contact.phone_normalized == lead.phone_normalized if lead.phone_normalized else None)
    if key is None:
        return None
    return await session.scalar(
        select(Contact).where(account_service.contact_scope(principal), key, Contact.erased_at.is_(None),
                              or_(Contact.account_id == account_id, Contact.account_id.is_(None)))
        .order_by(Contact.account_id.is_(None), Contact.created_at, Contact.id).limit(1)
    )
