"""Lead conversion: account (created or linked), contact and an opportunity in the first
stage of the chosen pipeline, in one transaction, with the conversion recorded on the lead
(converted_at and the three ids) for lead-to-opportunity analytics."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as account_service
from app.accounts.models import Account, Contact
from app.core.audit import AuditAction, record_audit
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.identity.models import User
from app.identity.principal import Principal
from app.leads.models import Lead, LeadStatus
from app.leads.normalize import normalize_company
from app.leads.schemas import ConvertRequest
from app.leads.service import get_lead, snapshot
from app.pipelines.models import (
    ExitKind, Opportunity, OpportunityStatus, Pipeline, Stage, StageInterval, StageKind, StageTransition,
    TransitionKind,
)


def _field_error(field: str, msg: str) -> Unprocessable:
    return Unprocessable(msg, errors=[{"loc": ["body", field], "msg": msg, "type": "value_error"}])


async def _first_stage(session: AsyncSession, org_id: uuid.UUID, pipeline_id: uuid.UUID | None) -> Stage:
    pipeline_q = select(Pipeline.id).where(Pipeline.org_id == org_id, Pipeline.is_archived.is_(False))
    pipeline_q = pipeline_q.where(Pipeline.id == pipeline_id) if pipeline_id else pipeline_q.where(Pipeline.is_default)
    pid = await session.scalar(pipeline_q)
    if pid is None:
        raise _field_error("pipeline_id", "No such active pipeline" if pipeline_id else "The organisation has no default pipeline; pass pipeline_id")
    stage = await session.scalar(
        select(Stage).where(Stage.org_id == org_id, Stage.pipeline_id == pid, Stage.kind == StageKind.open,
                            Stage.is_retired.is_(False)).order_by(Stage.position, Stage.id).limit(1)
    )
    if stage is None:
        raise _field_error("pipeline_id", "The pipeline has no open stage")
    return stage


# MERGE: replaced by app.pipelines.service.create_opportunity(session, principal, data) once
# the pipelines branch lands; kept minimal here (row, first interval, first transition, event).
async def _create_opportunity(session: AsyncSession, principal: Principal, *, name: str, owner_id: uuid.UUID,
                              account_id: uuid.UUID, lead: Lead, stage: Stage, amount: Any, currency: str,
                              expected_close_date: Any) -> Opportunity:
    now = utcnow()
    team_id = await session.scalar(select(User.team_id).where(User.id == owner_id))
    opp = Opportunity(
        org_id=principal.org_id, name=name, owner_id=owner_id, team_id=team_id, account_id=account_id, lead_id=lead.id,
        pipeline_id=stage.pipeline_id, stage_id=stage.id, stage_entered_at=now, status=OpportunityStatus.open,
        amount=amount, currency=currency, expected_close_date=expected_close_date, source=lead.source, version=1,
    )
    session.add(opp)
    await session.flush()
    session.add(StageInterval(org_id=principal.org_id, opportunity_id=opp.id, pipeline_id=stage.pipeline_id,
                              stage_id=stage.id, owner_id=owner_id, team_id=team_id, entered_at=now,
                              exit_kind=ExitKind.still_open))
    session.add(StageTransition(org_id=principal.org_id, opportunity_id=opp.id, kind=TransitionKind.created,
                                to_stage_id=stage.id, to_pipeline_id=stage.pipeline_id, actor_id=principal.actor_id,
                                occurred_at=now, amount=amount))
    await session.flush()
    payload = {"opportunity": {
        "id": opp.id, "name": name, "owner_id": owner_id, "team_id": team_id, "account_id": account_id,
        "lead_id": lead.id, "pipeline_id": stage.pipeline_id, "stage_id": stage.id, "status": "open",
        "amount": amount, "currency": currency, "source": lead.source,
    }}
    await record_audit(session, principal, entity_type="opportunity", entity_id=opp.id, action=AuditAction.create,
                       after=payload["opportunity"])
    await record_event(session, org_id=principal.org_id, type="opportunity.created", entity_type="opportunity",
                       entity_id=opp.id, actor_id=principal.actor_id, payload=payload)
    return opp


async def convert(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, data: ConvertRequest, *,
                  if_match: str | None) -> dict[str, Any]:
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
    stage = await _first_stage(session, principal.org_id, data.pipeline_id)

    created_account = data.account_id is None
    if data.account_id is not None:
        account = await account_service.get_account(session, principal, data.account_id, not_found=_field_error(
            "account_id", "No such account"))
    else:
        if not lead.company:
            raise _field_error("account_id", "The lead has no company: pass account_id to link an account")
        # Reuse an account with the same normalised name rather than creating a twin.
        account = await session.scalar(
            select(Account).where(Account.org_id == principal.org_id,
                                  Account.name_normalized == normalize_company(lead.company)).order_by(Account.id).limit(1)
        )
        created_account = account is None
        if account is None:
            account = await account_service.insert_account(session, principal, owner_id=owner_id, values={
                "name": lead.company, "size": lead.company_size, "region": lead.region})
    contact = await account_service.insert_contact(session, principal, owner_id=owner_id, values={
        "account_id": account.id, "first_name": lead.first_name, "last_name": lead.last_name or lead.company or "-",
        "email": lead.email, "phone": lead.phone, "title": lead.title,
    }, normalised={"email_normalized": lead.email_normalized, "phone_normalized": lead.phone_normalized})
    name = data.opportunity_name or f"{account.name} - {lead.product_interest or 'new deal'}"
    currency = data.currency or get_settings().default_currency
    opp = await _create_opportunity(session, principal, name=name, owner_id=owner_id, account_id=account.id, lead=lead,
                                    stage=stage, amount=data.amount, currency=currency,
                                    expected_close_date=data.expected_close_date)
    before = snapshot(lead)
    now = utcnow()
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
                           "contact_id": contact.id, "opportunity_id": opp.id, "pipeline_id": stage.pipeline_id,
                           "stage_id": stage.id, "amount": data.amount, "currency": currency,
                           "seconds_to_convert": int((now - lead.created_at).total_seconds()),
                       })
    return {"lead": lead, "account_id": account.id, "contact_id": contact.id, "opportunity_id": opp.id,
            "account_created": created_account, "stage_id": stage.id, "pipeline_id": stage.pipeline_id}
