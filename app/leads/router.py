"""HTTP endpoints of the leads domain (thin: parse, call one service function, shape)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from app.core.db import SessionDep
from app.core.etag import set_etag
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.identity.auth import CurrentPrincipal
from app.imports.router import ImportDocs, add_import_routes
from app.leads import assignment, conversion, privacy, scoring, service
from app.leads.models import ImportKind, LeadStatus
from app.leads.schemas import (
    AssignmentRuleIn,
    AssignmentRuleOut,
    AssignRequest,
    ConversionOut,
    ConvertRequest,
    DisqualifyRequest,
    DuplicateMatch,
    LeadCreate,
    LeadCreated,
    LeadOut,
    LeadSettingsIn,
    LeadSettingsOut,
    LeadUpdate,
    MergeRequest,
    PersonalDataExport,
    ScoringRuleIn,
    ScoringRuleOut,
    ScoringRulePatch,
)
from app.leads.types import QueryDateTime

router = APIRouter(tags=["leads"])
IfMatch = Annotated[str, Header(alias="If-Match", description="ETag from a previous read; 412 when stale")]
AllowDuplicates = Annotated[bool, Query(description="Create even when an email/phone match exists (otherwise 409 with the matches)")]


def _out(response: Response, lead) -> LeadOut:  # type: ignore[no-untyped-def]
    set_etag(response, lead.version)
    return LeadOut.model_validate(lead)


@router.post("/leads", status_code=status.HTTP_201_CREATED, response_model=LeadCreated, summary="Create a lead",
             description="Email and phone are normalised; a match with a lead or contact answers 409 with the matches "
                         "unless `allow_duplicates=true`. Company-name matches come back as `possible_duplicates`.")
async def create_lead(body: LeadCreate, session: SessionDep, principal: CurrentPrincipal, response: Response,
                      allow_duplicates: AllowDuplicates = False) -> LeadCreated:
    lead, hints = await service.create_lead(session, principal, body, allow_duplicates=allow_duplicates)
    set_etag(response, lead.version)
    response.headers["Location"] = f"/v1/leads/{lead.id}"
    return LeadCreated.model_validate({**LeadOut.model_validate(lead).model_dump(), "possible_duplicates": hints})


@router.get("/leads", response_model=Page[LeadOut], summary="List and search leads")
async def list_leads(
    session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None, limit: LimitParam = DEFAULT_LIMIT,
    status_: Annotated[LeadStatus, Query(alias="status")] = None,
    source: Annotated[str, Query(max_length=30)] = None,
    campaign: Annotated[str, Query(max_length=200)] = None,
    grade: Annotated[Literal["A", "B", "C", "D"], Query()] = None,
    owner: Annotated[str, Query(max_length=40, description="`me`, `unassigned` or a user id")] = None,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$", description="Name, company, email or phone contains")] = None,
    created_after: Annotated[QueryDateTime, Query()] = None, created_before: Annotated[QueryDateTime, Query()] = None,
) -> Page[LeadOut]:
    items, next_cursor = await service.list_leads(
        session, principal, cursor=cursor, limit=limit, status=status_, source=source, campaign=campaign, grade=grade,
        owner=owner, q=q, created_after=created_after, created_before=created_before)
    return Page[LeadOut](items=[LeadOut.model_validate(i) for i in items], next_cursor=next_cursor)


@router.get("/leads/{lead_id}", response_model=LeadOut, summary="Get a lead (with its score breakdown)")
async def get_lead(lead_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> LeadOut:
    return _out(response, await service.get_lead(session, principal, lead_id))


@router.patch("/leads/{lead_id}", response_model=LeadOut, summary="Update a lead")
async def update_lead(lead_id: uuid.UUID, body: LeadUpdate, session: SessionDep, principal: CurrentPrincipal,
                      response: Response, if_match: IfMatch = None, allow_duplicates: AllowDuplicates = False) -> LeadOut:
    lead = await service.update_lead(session, principal, lead_id, body, if_match=if_match, allow_duplicates=allow_duplicates)
    return _out(response, lead)


@router.delete("/leads/{lead_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a lead",
               description="Only for leads without history: a converted lead, a merged one, one other leads were "
                           "merged into, or one with logged activities is a 409 (disqualify it instead).")
async def delete_lead(lead_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await service.delete_lead(session, principal, lead_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/leads/{lead_id}/disqualify", response_model=LeadOut, summary="Disqualify a lead (reason required)")
async def disqualify_lead(lead_id: uuid.UUID, body: DisqualifyRequest, session: SessionDep, principal: CurrentPrincipal,
                          response: Response, if_match: IfMatch = None) -> LeadOut:
    return _out(response, await service.disqualify(session, principal, lead_id, body.reason, if_match=if_match))


@router.post("/leads/{lead_id}/assign", response_model=LeadOut, summary="Assign a lead to a user, or route it by the rules")
async def assign_lead(lead_id: uuid.UUID, body: AssignRequest, session: SessionDep, principal: CurrentPrincipal,
                      response: Response, if_match: IfMatch = None) -> LeadOut:
    return _out(response, await service.assign(session, principal, lead_id, body.owner_id, if_match=if_match))


@router.post("/leads/{lead_id}/convert", response_model=ConversionOut, summary="Convert a lead",
             description="Creates or links the account, creates the contact and an opportunity in the first stage "
                         "of the pipeline, in one transaction.")
async def convert_lead(lead_id: uuid.UUID, body: ConvertRequest, session: SessionDep, principal: CurrentPrincipal,
                       response: Response, if_match: IfMatch = None) -> ConversionOut:
    result = await conversion.convert(session, principal, lead_id, body, if_match=if_match)
    set_etag(response, result["lead"].version)
    return ConversionOut.model_validate({**result, "lead": LeadOut.model_validate(result["lead"])})


@router.get("/leads/{lead_id}/duplicates", response_model=list[DuplicateMatch], summary="Possible duplicates of a lead")
async def lead_duplicates(lead_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[DuplicateMatch]:
    return await service.list_duplicates(session, principal, lead_id)


@router.post("/leads/{lead_id}/merge", response_model=LeadOut, summary="Merge a duplicate into this lead",
             description="Empty fields are filled from the duplicate, its activities and tasks move here; the "
                         "duplicate stays readable with `merged_into_id` and leaves the lists.")
async def merge_lead(lead_id: uuid.UUID, body: MergeRequest, session: SessionDep, principal: CurrentPrincipal,
                     response: Response, if_match: IfMatch = None) -> LeadOut:
    return _out(response, await service.merge(session, principal, lead_id, body.duplicate_id, if_match=if_match))


@router.get("/leads/{lead_id}/personal-data", response_model=PersonalDataExport,
            summary="Export everything held about a lead (admins)")
async def export_lead_data(lead_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> PersonalDataExport:
    return await privacy.export_lead(session, principal, lead_id)


@router.post("/leads/{lead_id}/erase", response_model=LeadOut, summary="Erase (anonymise) a lead's personal data (admins)",
             description="Every record of the person is anonymised: this lead, leads merged into it and the contact it "
                         "was converted into. Names, email, phone, title and notes are removed, also from activity "
                         "notes, events, the audit trail and stored idempotent responses; status, source, dates and "
                         "any deal figures stay.")
async def erase_lead(lead_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response) -> LeadOut:
    return _out(response, await privacy.erase_lead(session, principal, lead_id))


# ---- settings and rules --------------------------------------------------------------

@router.get("/lead-settings", response_model=LeadSettingsOut, summary="Grade thresholds and response-time target")
async def get_lead_settings(session: SessionDep, principal: CurrentPrincipal, response: Response) -> LeadSettingsOut:
    row = await scoring.read_settings(session, principal)
    set_etag(response, row.version)
    return LeadSettingsOut.model_validate(row)


@router.put("/lead-settings", response_model=LeadSettingsOut, summary="Change grade thresholds or the response target (admins)")
async def put_lead_settings(body: LeadSettingsIn, session: SessionDep, principal: CurrentPrincipal, response: Response,
                            if_match: IfMatch = None) -> LeadSettingsOut:
    row = await scoring.write_settings(session, principal, body, if_match=if_match)
    set_etag(response, row.version)
    return LeadSettingsOut.model_validate(row)


@router.get("/lead-scoring-rules", response_model=list[ScoringRuleOut], summary="Scoring rules")
async def list_scoring_rules(session: SessionDep, principal: CurrentPrincipal) -> list[ScoringRuleOut]:
    return [ScoringRuleOut.model_validate(r) for r in await scoring.list_rules(session, principal)]


@router.post("/lead-scoring-rules", status_code=status.HTTP_201_CREATED, response_model=ScoringRuleOut,
             summary="Add a scoring rule (admins); every lead is rescored")
async def create_scoring_rule(body: ScoringRuleIn, session: SessionDep, principal: CurrentPrincipal, response: Response) -> ScoringRuleOut:
    rule = await scoring.create_rule(session, principal, body)
    set_etag(response, rule.version)
    return ScoringRuleOut.model_validate(rule)


@router.patch("/lead-scoring-rules/{rule_id}", response_model=ScoringRuleOut, summary="Change a scoring rule (admins)")
async def update_scoring_rule(rule_id: uuid.UUID, body: ScoringRulePatch, session: SessionDep, principal: CurrentPrincipal,
                              response: Response, if_match: IfMatch = None) -> ScoringRuleOut:
    rule = await scoring.update_rule(session, principal, rule_id, body, if_match=if_match)
    set_etag(response, rule.version)
    return ScoringRuleOut.model_validate(rule)


@router.delete("/lead-scoring-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a scoring rule (admins)")
async def delete_scoring_rule(rule_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await scoring.delete_rule(session, principal, rule_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/lead-assignment-rules", response_model=list[AssignmentRuleOut], summary="Assignment (routing) rules")
async def list_assignment_rules(session: SessionDep, principal: CurrentPrincipal) -> list[AssignmentRuleOut]:
    return [AssignmentRuleOut.model_validate(r) for r in await assignment.list_rules(session, principal)]


@router.post("/lead-assignment-rules", status_code=status.HTTP_201_CREATED, response_model=AssignmentRuleOut,
             summary="Add an assignment rule (admins)")
async def create_assignment_rule(body: AssignmentRuleIn, session: SessionDep, principal: CurrentPrincipal,
                                 response: Response) -> AssignmentRuleOut:
    rule = await assignment.create_rule(session, principal, body)
    set_etag(response, rule.version)
    return AssignmentRuleOut.model_validate(rule)


@router.put("/lead-assignment-rules/{rule_id}", response_model=AssignmentRuleOut, summary="Replace an assignment rule (admins)")
async def replace_assignment_rule(rule_id: uuid.UUID, body: AssignmentRuleIn, session: SessionDep,
                                  principal: CurrentPrincipal, response: Response, if_match: IfMatch = None) -> AssignmentRuleOut:
    rule = await assignment.replace_rule(session, principal, rule_id, body, if_match=if_match)
    set_etag(response, rule.version)
    return AssignmentRuleOut.model_validate(rule)


@router.delete("/lead-assignment-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove an assignment rule (admins)")
async def delete_assignment_rule(rule_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, if_match: IfMatch = None) -> Response:
    await assignment.delete_rule(session, principal, rule_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- bulk import (the resource is shared with accounts and contacts: app/imports) -----------

add_import_routes(router, ImportKind.leads, ImportDocs(
    columns="Columns (header names): first_name, last_name, email, phone, title, company, company_size, "
            "region, product_interest, source, campaign, description, owner_email. The worker imports the "
            "rows; poll the returned resource for progress, counts and per-row errors.",
    example="first_name,last_name,email,phone,company,source,owner_email\n伟,张,zhang.wei@example.cn,13800138000,"
            "华东机械有限公司,event,\n",
    duplicates="Import rows matching existing leads/contacts instead of reporting them"))
