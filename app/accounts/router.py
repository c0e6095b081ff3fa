"""HTTP endpoints for accounts and contacts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from app.accounts import service
from app.accounts import timeline as timeline_service
from app.accounts.models import Lifecycle
from app.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    ContactCreate,
    ContactOut,
    ContactUpdate,
    TimelineEntry,
)
from app.core.db import SessionDep
from app.core.etag import set_etag
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.identity.auth import CurrentPrincipal
from app.imports.router import ImportDocs, add_import_routes
from app.leads import privacy
from app.leads.models import ImportKind
from app.leads.schemas import PersonalDataExport

router = APIRouter(tags=["accounts"])
IfMatch = Annotated[str, Header(alias="If-Match", description="ETag from a previous read; 412 when stale")]
Search = Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut, summary="Create an account")
async def create_account(body: AccountCreate, session: SessionDep, principal: CurrentPrincipal, response: Response) -> AccountOut:
    account = await service.create_account(session, principal, body)
    set_etag(response, account.version)
    response.headers["Location"] = f"/v1/accounts/{account.id}"
    return AccountOut.model_validate(account)


@router.get("/accounts", response_model=Page[AccountOut], summary="List and search accounts")
async def list_accounts(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                        limit: LimitParam = DEFAULT_LIMIT, q: Search = None, lifecycle: Annotated[Lifecycle, Query()] = None,
                        value_class: Annotated[Literal["A", "B", "C"], Query()] = None, owner_id: Annotated[uuid.UUID, Query()] = None) -> Page[AccountOut]:
    items, nxt = await service.list_accounts(session, principal, cursor=cursor, limit=limit, q=q, lifecycle=lifecycle,
                                             value_class=value_class, owner_id=owner_id)
    return Page[AccountOut](items=[AccountOut.model_validate(i) for i in items], next_cursor=nxt)


@router.get("/accounts/{account_id}", response_model=AccountOut, summary="Get an account")
async def get_account(account_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> AccountOut:
    account = await service.get_account(session, principal, account_id)
    set_etag(response, account.version)
    return AccountOut.model_validate(account)


@router.patch("/accounts/{account_id}", response_model=AccountOut, summary="Update an account")
async def update_account(account_id: uuid.UUID, body: AccountUpdate, session: SessionDep, principal: CurrentPrincipal,
                         response: Response, if_match: IfMatch = None) -> AccountOut:
    account = await service.update_account(session, principal, account_id, body, if_match=if_match)
    set_etag(response, account.version)
    return AccountOut.model_validate(account)


@router.delete("/accounts/{account_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an account without deals")
async def delete_account(account_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await service.delete_account(session, principal, account_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/accounts/{account_id}/timeline", response_model=Page[TimelineEntry],
            summary="The account's 360 view: activities, opportunities and stage changes, newest first")
async def account_timeline(account_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                           cursor: CursorParam = None, limit: LimitParam = DEFAULT_LIMIT) -> Page[TimelineEntry]:
    items, nxt = await timeline_service.timeline(session, principal, account_id, cursor=cursor, limit=limit)
    return Page[TimelineEntry](items=[TimelineEntry.model_validate(i) for i in items], next_cursor=nxt)


@router.post("/contacts", status_code=status.HTTP_201_CREATED, response_model=ContactOut, summary="Create a contact")
async def create_contact(body: ContactCreate, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ContactOut:
    contact = await service.create_contact(session, principal, body)
    set_etag(response, contact.version)
    response.headers["Location"] = f"/v1/contacts/{contact.id}"
    return ContactOut.model_validate(contact)


@router.get("/contacts", response_model=Page[ContactOut], summary="List contacts")
async def list_contacts(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                        limit: LimitParam = DEFAULT_LIMIT, account_id: Annotated[uuid.UUID, Query()] = None, q: Search = None) -> Page[ContactOut]:
    items, nxt = await service.list_contacts(session, principal, cursor=cursor, limit=limit, account_id=account_id, q=q)
    return Page[ContactOut](items=[ContactOut.model_validate(i) for i in items], next_cursor=nxt)


@router.get("/contacts/{contact_id}", response_model=ContactOut, summary="Get a contact")
async def get_contact(contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ContactOut:
    contact = await service.get_contact(session, principal, contact_id)
    set_etag(response, contact.version)
    return ContactOut.model_validate(contact)


@router.patch("/contacts/{contact_id}", response_model=ContactOut, summary="Update a contact")
async def update_contact(contact_id: uuid.UUID, body: ContactUpdate, session: SessionDep, principal: CurrentPrincipal,
                         response: Response, if_match: IfMatch = None) -> ContactOut:
    contact = await service.update_contact(session, principal, contact_id, body, if_match=if_match)
    set_etag(response, contact.version)
    return ContactOut.model_validate(contact)


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a contact")
async def delete_contact(contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await service.delete_contact(session, principal, contact_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{contact_id}/personal-data", response_model=PersonalDataExport,
            summary="Export everything held about a contact (admins)")
async def export_contact_data(contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> PersonalDataExport:
    return await privacy.export_contact(session, principal, contact_id)


@router.post("/contacts/{contact_id}/erase", response_model=ContactOut, summary="Erase (anonymise) a contact (admins)",
             description="Personal fields are removed (also from the lead it came from and the leads merged into that, "
                         "activity notes, events, the audit trail and stored idempotent responses); the account and "
                         "every deal figure stay.")
async def erase_contact(contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ContactOut:
    contact = await privacy.erase_contact(session, principal, contact_id)
    set_etag(response, contact.version)
    return ContactOut.model_validate(contact)


# ---- bulk import (the job resource is shared with leads: app/imports) ------------------------

add_import_routes(router, ImportKind.accounts, ImportDocs(
    columns="Columns (header names): name (required), website, industry, size (employees), region, tier, "
            "lifecycle (prospect|customer|churned, default prospect), description, owner_email (default: the "
            "importing user; API keys must give it). The worker imports the rows; poll the returned resource for "
            "progress, counts and per-row errors (docs/imports.md).",
    example="name,website,industry,size,region,tier,lifecycle,owner_email\n上海华东机械有限公司,https://hd.example.cn,"
            "Machinery,1200,East China,strategic,customer,\n",
    duplicates="Import rows whose normalised name matches an existing account (or an earlier row) instead of "
               "reporting them"))
add_import_routes(router, ImportKind.contacts, ImportDocs(
    columns="Columns (header names): first_name, last_name (required), email, phone, title, owner_email (default: "
            "the importing user; API keys must give it), and the account to link: account_id, or account_name "
            "(matched on the normalised name of an account of the organisation; no match is the row error "
            "unknown_account, several are ambiguous_account). The worker imports the rows; poll the returned "
            "resource for progress, counts and per-row errors (docs/imports.md).",
    example="first_name,last_name,email,phone,title,account_name\n伟,张,zhang.wei@example.cn,13800138000,采购经理,"
            "上海华东机械有限公司\n",
    duplicates="Import rows whose email or phone matches an existing contact (or an earlier row) instead of "
               "reporting them"))
