"""Worker job: `lead.response_overdue` for new leads nobody contacted within the
organisation's target (lead_settings.response_target_minutes, default 60)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import record_event
from app.leads.models import Lead, LeadSettings, LeadStatus

DEFAULT_TARGET_MINUTES = 60


async def raise_response_overdue(session: AsyncSession, settings: Any) -> int:
    target = func.coalesce(
        select(LeadSettings.response_target_minutes).where(LeadSettings.org_id == Lead.org_id).scalar_subquery(),
        DEFAULT_TARGET_MINUTES,
    )
    deadline = Lead.created_at + func.make_interval(0, 0, 0, 0, 0, target)
    rows = list(await session.scalars(
        select(Lead).where(
            Lead.status == LeadStatus.new, Lead.first_response_at.is_(None), Lead.response_overdue_at.is_(None),
            Lead.merged_into_id.is_(None), deadline <= func.now(),
        ).order_by(Lead.created_at).limit(1000).with_for_update(skip_locked=True)
    ))
    now = (await session.execute(text("SELECT now()"))).scalar_one()
    for lead in rows:
        lead.response_overdue_at = now
        await record_event(session, org_id=lead.org_id, type="lead.response_overdue", entity_type="lead",
                           entity_id=lead.id, actor_id=None, payload={
                               "lead_id": lead.id, "owner_id": lead.owner_id, "created_at": lead.created_at,
                               "minutes_waiting": int((now - lead.created_at).total_seconds() // 60),
                               "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
                               "company": lead.company, "source": lead.source, "grade": lead.grade})
    await session.flush()
    return len(rows)
