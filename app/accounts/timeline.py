"""The account 360 view: activities (on the account, its contacts, its opportunities and the
leads converted into it, whose history becomes the customer's as in a lead conversion
elsewhere), each such lead's conversion, opportunities created and their stage changes
(from stage_transition), as one stream in reverse chronological order, keyset-paginated
over (occurred_at, id) of the union."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, cast, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Contact
from app.accounts.service import get_account
from app.activities.models import Activity
from app.core.pagination import keyset_page, page_of
from app.identity.principal import Principal
from app.leads.models import Lead
from app.pipelines.models import Opportunity, Stage, StageTransition, TransitionKind


async def timeline(session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, cursor: str | None,
                   limit: int) -> tuple[list[dict[str, Any]], str | None]:
    account = await get_account(session, principal, account_id)
    org = principal.org_id
    # A deleted deal leaves the customer's story with its activities and stage changes.
    deals = (Opportunity.org_id == org) & (Opportunity.account_id == account.id) & Opportunity.deleted_at.is_(None)
    opp_ids = select(Opportunity.id).where(deals)
    contact_ids = select(Contact.id).where(Contact.org_id == org, Contact.account_id == account.id)
    converted = (Lead.org_id == org) & (Lead.converted_account_id == account.id)
    activities = select(
        literal("activity").label("kind"), Activity.occurred_at.label("occurred_at"), Activity.id.label("id"),
        Activity.opportunity_id.label("opportunity_id"), Activity.contact_id.label("contact_id"),
        Activity.owner_id.label("actor_id"), Activity.subject.label("title"),
        func.jsonb_build_object("activity_kind", cast(Activity.kind, String), "body", Activity.body,
                                "duration_minutes", Activity.duration_minutes, "lead_id", Activity.lead_id).label("detail"),
    ).where(Activity.org_id == org, or_(Activity.account_id == account.id, Activity.contact_id.in_(contact_ids),
                                        Activity.opportunity_id.in_(opp_ids),
                                        Activity.lead_id.in_(select(Lead.id).where(converted))))
    to_stage, from_stage = Stage.__table__.alias("to_stage"), Stage.__table__.alias("from_stage")
    transitions = select(
        literal("stage_changed"),
        StageTransition.occurred_at, StageTransition.id, StageTransition.opportunity_id, literal(None, type_=Activity.contact_id.type),
        StageTransition.actor_id, Opportunity.name,
        func.jsonb_build_object("transition", cast(StageTransition.kind, String), "from_stage", from_stage.c.name,
                                "to_stage", to_stage.c.name, "amount", StageTransition.amount, "reason", StageTransition.reason),
    ).join(Opportunity, Opportunity.id == StageTransition.opportunity_id) \
     .join(to_stage, to_stage.c.id == StageTransition.to_stage_id) \
     .outerjoin(from_stage, from_stage.c.id == StageTransition.from_stage_id) \
     .where(StageTransition.org_id == org, deals,
            StageTransition.kind != TransitionKind.created)
    created = select(
        literal("opportunity_created"), Opportunity.created_at, Opportunity.id, Opportunity.id,
        literal(None, type_=Activity.contact_id.type), Opportunity.owner_id, Opportunity.name,
        func.jsonb_build_object("amount", Opportunity.amount, "currency", Opportunity.currency,
                                "status", cast(Opportunity.status, String), "lead_id", Opportunity.lead_id),
    ).where(deals)
    lead_converted = select(
        literal("lead_converted"), Lead.converted_at, Lead.id, Lead.converted_opportunity_id, Lead.converted_contact_id,
        Lead.owner_id, func.concat_ws(" ", Lead.first_name, Lead.last_name, Lead.company),
        func.jsonb_build_object("lead_id", Lead.id, "source", Lead.source, "campaign", Lead.campaign,
                                "created_at", Lead.created_at),
    ).where(converted, Lead.converted_at.is_not(None))
    stream = union_all(activities, transitions, created, lead_converted).subquery("stream")
    stmt = keyset_page(select(stream), [stream.c.occurred_at, stream.c.id], cursor=cursor, limit=limit, descending=True)
    rows = [dict(r._mapping) for r in (await session.execute(stmt)).all()]
    return page_of(rows, limit, lambda r: (r["occurred_at"].isoformat(), r["id"]))
