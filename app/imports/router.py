"""The four routes of an import resource, added to a domain's router for one kind:
POST (upload, 202 + Location), list, one, its row errors. Every kind's routes are the same
code; only the path, the wording and the example differ.

No `from __future__ import annotations` here: the endpoints' annotations use this call's
`docs`, so they must be evaluated where they are written."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.db import SessionDep
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.identity.auth import CurrentPrincipal
from app.imports import jobs
from app.imports.schemas import ImportErrorOut, ImportOut
from app.leads.models import ImportKind

Filename = Annotated[str, Query(max_length=300, description="Shown in the import list")]


@dataclass(frozen=True)
class ImportDocs:
    columns: str  # the upload's description
    example: str  # a CSV body for the docs
    duplicates: str  # what allow_duplicates lets through


def add_import_routes(router: APIRouter, kind: ImportKind, docs: ImportDocs) -> None:
    info = jobs.KINDS[kind]
    noun, collection = info.noun, info.path.removeprefix("/v1")
    body = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"},
                                                                        "example": docs.example}}}}

    AllowDuplicates = Annotated[bool, Query(description=docs.duplicates)]

    async def create(request: Request, session: SessionDep, principal: CurrentPrincipal, response: Response,
                     filename: Filename = None, allow_duplicates: AllowDuplicates = False) -> ImportOut:
        job = await jobs.enqueue(session, principal, await request.body(), kind=kind,
                                 content_type=request.headers.get("content-type"), filename=filename,
                                 skip_duplicates=not allow_duplicates)
        response.headers["Location"] = f"{info.path}/{job.id}"
        return ImportOut.model_validate(job)

    async def list_(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                    limit: LimitParam = DEFAULT_LIMIT) -> Page[ImportOut]:
        items, next_cursor = await jobs.list_imports(session, principal, kind=kind, cursor=cursor, limit=limit)
        return Page[ImportOut](items=[ImportOut.model_validate(i) for i in items], next_cursor=next_cursor)

    async def get(import_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ImportOut:
        return ImportOut.model_validate(await jobs.get_import(session, principal, import_id, kind=kind))

    async def errors(import_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                     cursor: CursorParam = None, limit: LimitParam = DEFAULT_LIMIT) -> Page[ImportErrorOut]:
        items, next_cursor = await jobs.list_errors(session, principal, import_id, kind=kind, cursor=cursor, limit=limit)
        return Page[ImportErrorOut](items=[ImportErrorOut.model_validate(i) for i in items], next_cursor=next_cursor)

    router.add_api_route(collection, create, methods=["POST"], status_code=status.HTTP_202_ACCEPTED,
                         response_model=ImportOut, name=f"create_{noun}_import", openapi_extra=body,
                         summary=f"Upload a CSV of {noun}s for a background import", description=docs.columns)
    router.add_api_route(collection, list_, methods=["GET"], response_model=Page[ImportOut],
                         name=f"list_{noun}_imports", summary=f"Recent {noun} imports")
    router.add_api_route(collection + "/{import_id}", get, methods=["GET"], response_model=ImportOut,
                         name=f"get_{noun}_import", summary="Progress and counts of an import")
    router.add_api_route(collection + "/{import_id}/errors", errors, methods=["GET"], response_model=Page[ImportErrorOut],
                         name=f"list_{noun}_import_errors", summary="Rows an import skipped, and why")
