"""Accounts and contacts: CRUD with tenant and owner visibility, normalised contact data."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account, Contact, Lifecycle
from app.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    ContactCreate,
    ContactOut,
    ContactUpdate,
)
from app.core.audit import AuditAction, record_audit
from app.core.config import get_settings
from app.core.db import one_or_404
from app.core.errors import Conflict, DomainError, Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.identity.owners import resolve_owner
from app.identity.principal import Principal, visible_owner_clause
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer

DOMAIN = "accounts"


def account_scope(principal: Principal) -> ColumnElement[bool]:
    return (Account.org_id == principal.org_id) & visible_owner_clause(principal, Account.owner_id)


def contact_scope(principal: Principal) -> ColumnElement[bool]:
    return (Contact.org_id == principal.org_id) & visible_owner_clause(principal, Contact.owner_id)


def account_dict(a: Account) -> dict[str, Any]:
    return AccountOut.model_validate(a).model_dump(mode="json")


def contact_dict(c: Contact) -> dict[str, Any]:
    return ContactOut.model_validate(c).model_dump(mode="json")


def _esc(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def get_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, lock: bool = False,
                      not_found: DomainError | None = None) -> Account:
    principal.require(DOMAIN, "read")
    return await one_or_404(session, select(Account).where(Account.id == account_id, account_scope(principal)),
                            not_found or "No account with that id", lock=lock)


async def insert_account(session: AsyncSession, principal: Principal, *, owner_id: uuid.UUID,
                         values: dict[str, Any]) -> Account:
    account = Account(org_id=principal.org_id, owner_id=owner_id, name_normalized=normalize_company(values["name"]) or
                      values["name"].casefold(), version=1, **{k: v for k, v in values.items() if v is not None})
    session.add(account)
    await session.flush()
    await session.refresh(account)
    after = account_dict(account)
    await record_audit(session, principal, entity_type="account", entity_id=account.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="account.created", entity_type="account",
                       entity_id=account.id, actor_id=principal.actor_id, payload={"account": after})
    return account


async def create_account(session: AsyncSession, principal: Principal, data: AccountCreate) -> Account:
    principal.require(DOMAIN, "write")
    owner, _ = await resolve_owner(session, principal, data.owner_id, what="accounts")
    values = data.model_dump(exclude={"owner_id"})
    return await insert_account(session, principal, owner_id=owner, values=values)


async def list_accounts(session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int,
                        q: str | None = None, lifecycle: Lifecycle | None = None, value_class: str | None = None,
                        owner_id: uuid.UUID | None = None) -> tuple[list[Account], str | None]:
    principal.require(DOMAIN, "read")
    stmt: Select[Any] = select(Account).where(account_scope(principal))
    if q:
        stmt = stmt.where(or_(Account.name.ilike(_esc(q), escape="\\"), Account.name_normalized.ilike(_esc(q.casefold()), escape="\\")))
    if lifecycle:
        stmt = stmt.where(Account.lifecycle == lifecycle)
    if value_class:
        stmt = stmt.where(Account.value_class == value_class)
    if owner_id:
        stmt = stmt.where(Account.owner_id == owner_id)
    stmt = keyset_page(stmt, [Account.created_at, Account.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


async def update_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID, data: AccountUpdate,
                         *, if_match: str | None) -> Account:
    principal.require(DOMAIN, "write")
    account = await get_account(session, principal, account_id, lock=True)
    check_version(account.version, if_match)
    before = account_dict(account)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "lifecycle", "owner_id"):
        if key in changes and changes[key] is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"loc": ["body", key], "msg": "required", "type": "value_error"}])
    if "owner_id" in changes:
        await resolve_owner(session, principal, changes["owner_id"], what="accounts")
    for key, value in changes.items():
        setattr(account, key, value)
    if "name" in changes:
        account.name_normalized = normalize_company(account.name) or account.name.casefold()
    account.version += 1
    await session.flush()
    await session.refresh(account)
    after = account_dict(account)
    await record_audit(session, principal, entity_type="account", entity_id=account.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="account.updated", entity_type="account",
                       entity_id=account.id, actor_id=principal.actor_id, payload={"account": after})
    return account


async def delete_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, if_match: str | None) -> None:
    from app.pipelines.models import Opportunity

    principal.require(DOMAIN, "write")
    account = await get_account(session, principal, account_id, lock=True)
    check_version(account.version, if_match)
    has_deals = await session.scalar(select(func.count()).select_from(Opportunity).where(
        Opportunity.org_id == principal.org_id, Opportunity.account_id == account.id))
    if has_deals:
        raise Conflict("The account has opportunities; mark it churned instead of deleting it")
    before = account_dict(account)
    await session.delete(account)
    await session.flush()
    await record_audit(session, principal, entity_type="account", entity_id=account_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="account.deleted", entity_type="account",
                       entity_id=account_id, actor_id=principal.actor_id, payload={"account": before})


# ---- contacts ---------------------------------------------------------------------------

def _normalised(email: str | None, phone: str | None) -> dict[str, Any]:
    errors = []
    email_n, ok = normalize_email(email)
    if not ok:
        errors.append({"loc": ["body", "email"], "msg": "not a valid email address", "type": "value_error"})
    region = get_settings().default_phone_region
    phone_n, ok = phone_normalizer(region)(phone)
    if not ok:
        errors.append({"loc": ["body", "phone"], "msg": f"not a valid phone number (default region {region})", "type": "value_error"})
    if errors:
        raise Unprocessable("Invalid contact data", errors=errors)
    return {"email_normalized": email_n, "phone_normalized": phone_n}


async def get_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID, *, lock: bool = False) -> Contact:
    principal.require(DOMAIN, "read")
    return await one_or_404(session, select(Contact).where(Contact.id == contact_id, contact_scope(principal)),
                            "No contact with that id", lock=lock)


async def _check_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None) -> None:
    """A contact joins only an account the principal can see; one out of sight gets the
    same 422 as an unknown id."""
    if account_id is None:
        return
    found = await session.scalar(select(Account.id).where(Account.id == account_id, account_scope(principal)))
    if found is None:
        raise Unprocessable("No such account", errors=[{"loc": ["body", "account_id"], "msg": "unknown account", "type": "value_error"}])


async def insert_contact(session: AsyncSession, principal: Principal, *, owner_id: uuid.UUID, values: dict[str, Any],
                         normalised: dict[str, Any]) -> Contact:
    contact = Contact(org_id=principal.org_id, owner_id=owner_id, version=1, **values, **normalised)
    session.add(contact)
    await session.flush()
    await session.refresh(contact)
    after = contact_dict(contact)
    await record_audit(session, principal, entity_type="contact", entity_id=contact.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="contact.created", entity_type="contact",
                       entity_id=contact.id, actor_id=principal.actor_id, payload={"contact": after})
    return contact


async def create_contact(session: AsyncSession, principal: Principal, data: ContactCreate) -> Contact:
    principal.require(DOMAIN, "write")
    owner, _ = await resolve_owner(session, principal, data.owner_id, what="contacts")
    await _check_account(session, principal, data.account_id)
    norm = _normalised(data.email, data.phone)
    return await insert_contact(session, principal, owner_id=owner, values=data.model_dump(exclude={"owner_id"}), normalised=norm)


async def list_contacts(session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int,
                        account_id: uuid.UUID | None = None, q: str | None = None) -> tuple[list[Contact], str | None]:
    principal.require(DOMAIN, "read")
    stmt: Select[Any] = select(Contact).where(contact_scope(principal))
    if account_id:
        stmt = stmt.where(Contact.account_id == account_id)
    if q:
        stmt = stmt.where(or_(func.concat(Contact.last_name, Contact.first_name).ilike(_esc(q), escape="\\"),
                              func.concat_ws(" ", Contact.first_name, Contact.last_name).ilike(_esc(q), escape="\\"),
                              Contact.email_normalized.ilike(_esc(q.lower()), escape="\\")))
    stmt = keyset_page(stmt, [Contact.created_at, Contact.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.created_at.isoformat(), r.id))


async def update_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID, data: ContactUpdate,
                         *, if_match: str | None) -> Contact:
    principal.require(DOMAIN, "write")
    contact = await get_contact(session, principal, contact_id, lock=True)
    check_version(contact.version, if_match)
    if contact.erased_at:
        raise Conflict("The contact's data was erased")
    before = contact_dict(contact)
    changes = data.model_dump(exclude_unset=True)
    for key in ("last_name", "owner_id"):
        if key in changes and changes[key] is None:
            raise Unprocessable(f"{key} cannot be null", errors=[{"loc": ["body", key], "msg": "required", "type": "value_error"}])
    if "owner_id" in changes:
        await resolve_owner(session, principal, changes["owner_id"], what="contacts")
    if "account_id" in changes:
        await _check_account(session, principal, changes["account_id"])
    for key, value in changes.items():
        setattr(contact, key, value)
    if "email" in changes or "phone" in changes:
        for key, value in _normalised(contact.email, contact.phone).items():
            setattr(contact, key, value)
    contact.version += 1
    await session.flush()
    await session.refresh(contact)
    after = contact_dict(contact)
    await record_audit(session, principal, entity_type="contact", entity_id=contact.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="contact.updated", entity_type="contact",
                       entity_id=contact.id, actor_id=principal.actor_id, payload={"contact": after})
    return contact


async def delete_contact(session: AsyncSession, principal: Principal, contact_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require(DOMAIN, "write")
    contact = await get_contact(session, principal, contact_id, lock=True)
    check_version(contact.version, if_match)
    before = contact_dict(contact)
    await session.delete(contact)
    await session.flush()
    await record_audit(session, principal, entity_type="contact", entity_id=contact_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="contact.deleted", entity_type="contact",
                       entity_id=contact_id, actor_id=principal.actor_id, payload={"contact": before})
