"""Alert rules (CRUD, ETag/If-Match) and the alerts they raised."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from app.analytics import alerts
from app.analytics.schemas import (
    AlertOut,
    AlertRuleCreate,
    AlertRuleOut,
    AlertRuleUpdate,
)
from app.core.db import SessionDep
from app.core.etag import set_etag
from app.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from app.identity.auth import CurrentPrincipal

router = APIRouter(tags=["alerts"])

IfMatch = Annotated[str | None, Header(description="The ETag you read; 412 if the rule changed since")]


@router.post("/alert-rules", status_code=status.HTTP_201_CREATED, summary="Create an alert rule",
             response_model=AlertRuleOut)
async def create_alert_rule(session: SessionDep, principal: CurrentPrincipal, body: AlertRuleCreate,
                            response: Response) -> AlertRuleOut:
    rule = await alerts.create_rule(session, principal, data=body)
    set_etag(response, rule.version)
    response.headers["Location"] = f"/v1/alert-rules/{rule.id}"
    return AlertRuleOut.model_validate(rule)


@router.get("/alert-rules", summary="List alert rules", response_model=Page[AlertRuleOut])
async def list_alert_rules(session: SessionDep, principal: CurrentPrincipal, cursor: CursorParam = None,
                           limit: LimitParam = DEFAULT_LIMIT) -> Page[AlertRuleOut]:
    rows, next_cursor = await alerts.list_rules(session, principal, cursor=cursor, limit=limit)
    return Page(items=[AlertRuleOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/alert-rules/{rule_id}", summary="Get an alert rule", response_model=AlertRuleOut)
async def get_alert_rule(session: SessionDep, principal: CurrentPrincipal, rule_id: uuid.UUID,
                         response: Response) -> AlertRuleOut:
    rule = await alerts.get_rule(session, principal, rule_id=rule_id)
    set_etag(response, rule.version)
    return AlertRuleOut.model_validate(rule)


@router.patch("/alert-rules/{rule_id}", summary="Change an alert rule", response_model=AlertRuleOut)
async def update_alert_rule(session: SessionDep, principal: CurrentPrincipal, rule_id: uuid.UUID,
                            body: AlertRuleUpdate, response: Response, if_match: IfMatch = None) -> AlertRuleOut:
    rule = await alerts.update_rule(session, principal, rule_id=rule_id, data=body, if_match=if_match)
    set_etag(response, rule.version)
    return AlertRuleOut.model_validate(rule)


@router.delete("/alert-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an alert rule")
async def delete_alert_rule(session: SessionDep, principal: CurrentPrincipal, rule_id: uuid.UUID,
                            if_match: IfMatch = None) -> Response:
    await alerts.delete_rule(session, principal, rule_id=rule_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/alerts", summary="Alerts raised by the rules, newest first", response_model=Page[AlertOut])
async def list_alerts(
    session: SessionDep,
    principal: CurrentPrincipal,
    state: Annotated[Literal["open", "resolved", "all"], Query(description="Open (default), resolved, or all")] = "open",
    rule_id: Annotated[uuid.UUID | None, Query(description="Only this rule's alerts")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> Page[AlertOut]:
    rows, next_cursor = await alerts.list_alerts(session, principal, state=state, rule_id=rule_id, cursor=cursor, limit=limit)
    return Page(items=[AlertOut.model_validate(a) for a in rows], next_cursor=next_cursor)
