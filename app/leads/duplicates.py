"""Duplicate detection on normalised email, phone (block) and company name (hint)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact
from app.core.errors import Conflict
from app.leads.models import Lead
from app.leads.schemas import DuplicateMatch

MAX_MATCHES = 20


class DuplicateLead(Conflict):
    code, title = "duplicate-lead", "A lead or contact with this email or phone exists"


def _lock_id(org_id: uuid.UUID, kind: str, value: str) -> int:
    digest = hashlib.blake2b(f"lead-key:{org_id}:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_keys(session: AsyncSession, org_id: uuid.UUID, *, email: str | None, phone: str | None) -> None:
    """Make check-then-insert atomic per key: a transaction-level advisory lock on each
    normalised email and phone, held until commit, so of two writers with the same key the
    second checks for duplicates only after the first committed. Taken in one statement in
    ascending key order, so two writers sharing both keys cannot deadlock."""
    keys = sorted({_lock_id(org_id, kind, value) for kind, value in (("email", email), ("phone", phone)) if value})
    if keys:
        await session.execute(select(*(func.pg_advisory_xact_lock(k) for k in keys)))


async def find(session: AsyncSession, org_id: uuid.UUID, *, email: str | None, phone: str | None,
               company: str | None, exclude_id: uuid.UUID | None = None,
               lead_visible: ColumnElement[bool] | None = None,
               contact_visible: ColumnElement[bool] | None = None,
               account_visible: ColumnElement[bool] | None = None) -> list[DuplicateMatch]:
    """Live leads and contacts matching on any of the normalised keys, and accounts with the
    lead's normalised company name (a lead from an existing customer), one entry per record.
    Records outside the `*_visible` scopes (the caller's) show only their type, id and what
    matched: not their name, company or owner."""
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
        (true() if lead_visible is None else lead_visible).label("visible"),
    ).where(Lead.org_id == org_id, Lead.merged_into_id.is_(None), Lead.erased_at.is_(None), or_(*lead_conds))
    if exclude_id is not None:
        lead_q = lead_q.where(Lead.id != exclude_id)
    queries = [lead_q.limit(MAX_MATCHES)]
    contact_conds = keys(Contact, False)
    if contact_conds:
        queries.append(select(
            literal("contact"), Contact.id, func.concat_ws(" ", Contact.first_name, Contact.last_name),
            literal(None).label("company"), Contact.owner_id, Contact.email_normalized, Contact.phone_normalized,
            literal(None).label("company_normalized"), true() if contact_visible is None else contact_visible,
        ).where(Contact.org_id == org_id, Contact.erased_at.is_(None), or_(*contact_conds)).limit(MAX_MATCHES))
    if company:
        queries.append(select(
            literal("account"), Account.id, Account.name, Account.name, Account.owner_id, literal(None),
            literal(None), Account.name_normalized, true() if account_visible is None else account_visible,
        ).where(Account.org_id == org_id, Account.name_normalized == company).limit(MAX_MATCHES))
    rows = (await session.execute(union_all(*queries))).all()
    out = []
    for row in rows:
        on = [k for k, mine, theirs in (("email", email, row[5]), ("phone", phone, row[6]), ("company", company, row[7]))
              if mine and mine == theirs]
        shown = {"name": row[2] or None, "company": row[3], "owner_id": row[4]} if row[8] else {
            "name": None, "company": None, "owner_id": None}
        out.append(DuplicateMatch(type=row[0], id=row[1], **shown, visible=bool(row[8]),
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
