"""Duplicate detection on normalised email, phone (block) and company name (hint)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Contact
from app.core.errors import Conflict
from app.leads.models import Lead
from app.leads.schemas import DuplicateMatch

MAX_MATCHES = 20


class DuplicateLead(Conflict):
    code, title = "duplicate-lead", "A lead or contact with this email or phone exists"


async def find(session: AsyncSession, org_id: uuid.UUID, *, email: str | None, phone: str | None,
               company: str | None, exclude_id: uuid.UUID | None = None) -> list[DuplicateMatch]:
    """Live leads and contacts matching on any of the normalised keys, one entry per record."""
    if not (email or phone or company):
        return []

    def keys(model: Any, with_company: bool) -> list[Any]:
        conds = []
        if email:
            conds.append(model.email_normalized == email)
        if phone:
            conds.append(model.phone_normalized == phone)
        if with_company and company:
            conds.append(model.company_normalized == company)
        return conds

    lead_conds = keys(Lead, True)
    lead_q = select(
        literal("lead").label("type"), Lead.id, func.concat_ws(" ", Lead.first_name, Lead.last_name).label("name"),
        Lead.company, Lead.owner_id, Lead.email_normalized, Lead.phone_normalized, Lead.company_normalized,
    ).where(Lead.org_id == org_id, Lead.merged_into_id.is_(None), Lead.erased_at.is_(None), or_(*lead_conds))
    if exclude_id is not None:
        lead_q = lead_q.where(Lead.id != exclude_id)
    queries = [lead_q.limit(MAX_MATCHES)]
    contact_conds = keys(Contact, False)
    if contact_conds:
        queries.append(select(
            literal("contact"), Contact.id, func.concat_ws(" ", Contact.first_name, Contact.last_name),
            literal(None).label("company"), Contact.owner_id, Contact.email_normalized, Contact.phone_normalized,
            literal(None).label("company_normalized"),
        ).where(Contact.org_id == org_id, Contact.erased_at.is_(None), or_(*contact_conds)).limit(MAX_MATCHES))
    rows = (await session.execute(union_all(*queries))).all()
    out = []
    for row in rows:
        on = [k for k, mine, theirs in (("email", email, row[5]), ("phone", phone, row[6]), ("company", company, row[7]))
              if mine and mine == theirs]
        out.append(DuplicateMatch(type=row[0], id=row[1], name=row[2] or None, company=row[3], owner_id=row[4],
                                  matched_on=on, blocking="email" in on or "phone" in on))
    out.sort(key=lambda m: (not m.blocking, m.type, str(m.id)))
    return out


def raise_if_blocking(matches: list[DuplicateMatch]) -> None:
    blocking = [m for m in matches if m.blocking]
    if blocking:
        raise DuplicateLead(
            "Matching records exist; review them, merge, or send allow_duplicates=true to create anyway",
            matches=[m.model_dump(mode="json") for m in blocking],
        )
