"""Alert rules (CRUD) and their evaluation by the worker.

A rule is evaluated per subject (the stage for conversion rules, each rep for stalled-deal
rules). A breach opens one `alert` row and raises one `alert.triggered` event; it stays
open, raising nothing more, while the breach lasts; when the figure recovers the alert is
resolved (`alert.resolved`), and only a later breach triggers again. The open-alert
unique index makes "once per breach" hold even with several workers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.models import Alert, AlertKind, AlertRule, Cohort, StageRollup
from app.analytics.schemas import AlertRuleCreate, AlertRuleOut, AlertRuleUpdate
from app.core.audit import AuditAction, record_audit
from app.core.config import Settings
from app.core.db import one_or_404
from app.core.errors import Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.identity.models import Role
from app.identity.principal import Principal, visible_owner_clause
from app.pipelines.models import (
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageKind,
)

log = structlog.get_logger(__name__)

ENTITY = "alert_rule"


class InvalidAlertRule(Unprocessable):
    code, title = "invalid-alert-rule", "Invalid alert rule"


def _require_manage(principal: Principal) -> None:
    principal.require("analytics", "write")
    if principal.kind == "user":
        principal.require_role(Role.admin, Role.manager)


def _snapshot(rule: AlertRule) -> dict[str, Any]:
    return AlertRuleOut.model_validate(rule).model_dump(mode="json", exclude={"created_at", "updated_at", "version"})


async def _check_targets(session: AsyncSession, principal: Principal, kind: AlertKind, pipeline_id: uuid.UUID | None,
                         stage_id: uuid.UUID | None, threshold: Decimal) -> None:
    if pipeline_id is not None:
        found = await session.scalar(select(Pipeline.id).where(Pipeline.id == pipeline_id, Pipeline.org_id == principal.org_id))
        if found is None:
            raise InvalidAlertRule("pipeline_id names no pipeline of this organisation")
    if stage_id is not None:
        stage = await session.scalar(select(Stage).where(Stage.id == stage_id, Stage.org_id == principal.org_id))
        if stage is None or (pipeline_id is not None and stage.pipeline_id != pipeline_id):
            raise InvalidAlertRule("stage_id names no stage of that pipeline")
        if kind is AlertKind.stage_conversion_below and stage.kind is not StageKind.open:
            raise InvalidAlertRule("Conversion is measured on open stages only")
    if kind is AlertKind.stage_conversion_below:
        if pipeline_id is None or stage_id is None:
            raise InvalidAlertRule("A conversion rule needs pipeline_id and stage_id")
        if threshold > 1:
            raise InvalidAlertRule("A conversion threshold is a rate between 0 and 1")
    elif threshold != threshold.to_integral_value():
        raise InvalidAlertRule("A stalled-deals threshold is a whole number of deals")


async def create_rule(session: AsyncSession, principal: Principal, *, data: AlertRuleCreate) -> AlertRule:
    _require_manage(principal)
    await _check_targets(session, principal, data.kind, data.pipeline_id, data.stage_id, data.threshold)
    rule = AlertRule(org_id=principal.org_id, created_by=principal.actor_id, version=1, **data.model_dump())
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    after = _snapshot(rule)
    await record_audit(session, principal, entity_type=ENTITY, entity_id=rule.id, action=AuditAction.create, after=after)
    await record_event(session, org_id=principal.org_id, type="alert_rule.created", entity_type=ENTITY,
                       entity_id=rule.id, payload=after, actor_id=principal.actor_id)
    return rule


async def get_rule(session: AsyncSession, principal: Principal, *, rule_id: uuid.UUID, for_update: bool = False) -> AlertRule:
    principal.require("analytics", "read")
    stmt = select(AlertRule).where(AlertRule.id == rule_id, AlertRule.org_id == principal.org_id)
    return await one_or_404(session, stmt, "No alert rule with that id", lock=for_update)


async def list_rules(session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int) -> tuple[list[AlertRule], str | None]:
    principal.require("analytics", "read")
    stmt = keyset_page(select(AlertRule).where(AlertRule.org_id == principal.org_id),
                       [AlertRule.created_at, AlertRule.id], cursor=cursor, limit=limit)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


async def update_rule(session: AsyncSession, principal: Principal, *, rule_id: uuid.UUID, data: AlertRuleUpdate,
                      if_match: str | None) -> AlertRule:
    _require_manage(principal)
    rule = await get_rule(session, principal, rule_id=rule_id, for_update=True)
    check_version(rule.version, if_match)
    before = _snapshot(rule)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "threshold", "window_days", "min_entered", "is_active"):
        if field in changes and changes[field] is None:
            raise InvalidAlertRule(f"{field} cannot be null")
    threshold = changes.get("threshold", rule.threshold)
    await _check_targets(session, principal, rule.kind, rule.pipeline_id, rule.stage_id, threshold)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.version += 1
    await session.flush()
    await session.refresh(rule)
    after = _snapshot(rule)
    await record_audit(session, principal, entity_type=ENTITY, entity_id=rule.id, action=AuditAction.update,
                       before=before, after=after)
    await record_event(session, org_id=principal.org_id, type="alert_rule.updated", entity_type=ENTITY,
                       entity_id=rule.id, payload=after, actor_id=principal.actor_id)
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, *, rule_id: uuid.UUID, if_match: str | None) -> None:
    _require_manage(principal)
    rule = await get_rule(session, principal, rule_id=rule_id, for_update=True)
    check_version(rule.version, if_match)
    before = _snapshot(rule)
    await session.delete(rule)
    await session.flush()
    await record_audit(session, principal, entity_type=ENTITY, entity_id=rule_id, action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="alert_rule.deleted", entity_type=ENTITY,
                       entity_id=rule_id, payload=before, actor_id=principal.actor_id)


async def list_alerts(session: AsyncSession, principal: Principal, *, state: str, rule_id: uuid.UUID | None,
                      cursor: str | None, limit: int) -> tuple[list[Alert], str | None]:
    """Newest first. Reps see the alerts about themselves; managers those about their
    subtree and the organisation-level ones; admins and viewers all."""
    principal.require("analytics", "read")
    org_level = Alert.owner_id.is_(None) if principal.role is not Role.rep or principal.kind == "api_key" else None
    about_people = and_(Alert.owner_id.is_not(None), visible_owner_clause(principal, Alert.owner_id))
    seen = about_people if org_level is None else (org_level | about_people)
    stmt = select(Alert).where(Alert.org_id == principal.org_id, seen)
    if state == "open":
        stmt = stmt.where(Alert.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(Alert.resolved_at.is_not(None))
    if rule_id is not None:
        stmt = stmt.where(Alert.rule_id == rule_id)
    stmt = keyset_page(stmt, [Alert.triggered_at, Alert.id], cursor=cursor, limit=limit, descending=True)
    rows = list(await session.scalars(stmt))
    return page_of(rows, limit, lambda a: (a.triggered_at, a.id))


# --- evaluation (worker) -------------------------------------------------------------

Breach = tuple[Decimal, dict[str, Any], uuid.UUID | None]


async def _conversion_breaches(session: AsyncSession, rule: AlertRule, today: dt.date) -> dict[str, Breach]:
    r = StageRollup
    first_day = today - dt.timedelta(days=rule.window_days - 1)
    row = (await session.execute(
        select(func.coalesce(func.sum(r.entered), 0), func.coalesce(func.sum(r.advanced), 0)).where(
            r.org_id == rule.org_id, r.pipeline_id == rule.pipeline_id, r.stage_id == rule.stage_id,
            r.cohort == Cohort.reached, r.day >= first_day, r.day <= today)
    )).one()
    entered, advanced = int(row[0]), int(row[1])
    if entered < rule.min_entered:
        return {}
    value = (Decimal(advanced) / Decimal(entered)).quantize(Decimal("0.0001"))
    if value >= rule.threshold:
        return {}
    subject = {"stage_id": str(rule.stage_id), "pipeline_id": str(rule.pipeline_id), "entered": entered,
               "advanced": advanced, "from": first_day.isoformat(), "to": today.isoformat()}
    return {f"stage:{rule.stage_id}": (value, subject, None)}


async def _stalled_breaches(session: AsyncSession, rule: AlertRule, now: dt.datetime) -> dict[str, Breach]:
    o = Opportunity
    # The rule's own limit, else each stage's SLA (stages without one never stall then).
    days = Stage.sla_days if rule.stalled_after_days is None else literal(rule.stalled_after_days)
    stmt = (
        select(o.owner_id, func.count().label("n"))
        .join(Stage, and_(Stage.id == o.stage_id, Stage.org_id == o.org_id))
        .where(o.org_id == rule.org_id, o.status == OpportunityStatus.open, o.deleted_at.is_(None),
               o.stage_entered_at < now - func.make_interval(0, 0, 0, days))
        .group_by(o.owner_id)
        .having(func.count() > rule.threshold)
    )
    if rule.stalled_after_days is None:
        stmt = stmt.where(Stage.sla_days.is_not(None))
    if rule.pipeline_id is not None:
        stmt = stmt.where(o.pipeline_id == rule.pipeline_id)
    if rule.stage_id is not None:
        stmt = stmt.where(o.stage_id == rule.stage_id)
    return {
        f"owner:{row.owner_id}": (Decimal(row.n), {"owner_id": str(row.owner_id), "stalled_deals": row.n}, row.owner_id)
        for row in await session.execute(stmt)
    }


def _payload(alert: Alert, rule: AlertRule) -> dict[str, Any]:
    return {
        "alert_id": alert.id, "rule_id": rule.id, "rule_name": rule.name, "kind": rule.kind.value,
        "subject_key": alert.subject_key, "subject": alert.subject, "owner_id": alert.owner_id,
        "value": alert.value, "threshold": alert.threshold, "triggered_at": alert.triggered_at,
        "resolved_at": alert.resolved_at,
    }


async def evaluate_rules(session: AsyncSession, settings: Settings) -> int:
    """Worker job: evaluate every active rule once; returns the alerts raised or resolved."""
    now = (await session.execute(select(func.now()))).scalar_one()
    today = now.astimezone(dt.UTC).date()
    rules = list(await session.scalars(
        select(AlertRule).where(AlertRule.is_active).order_by(AlertRule.id).with_for_update(skip_locked=True)
    ))
    changed = 0
    for rule in rules:
        if rule.kind is AlertKind.stage_conversion_below:
            breaches = await _conversion_breaches(session, rule, today)
        else:
            breaches = await _stalled_breaches(session, rule, now)
        open_alerts = {a.subject_key: a for a in await session.scalars(
            select(Alert).where(Alert.rule_id == rule.id, Alert.resolved_at.is_(None)))}
        for key, (value, subject, owner_id) in breaches.items():
            if key in open_alerts:
                continue  # the same breach: raised once already
            alert = Alert(org_id=rule.org_id, rule_id=rule.id, subject_key=key, owner_id=owner_id, subject=subject,
                          value=value, threshold=rule.threshold, triggered_at=now)
            session.add(alert)
            await session.flush()
            await record_event(session, org_id=rule.org_id, type="alert.triggered", entity_type="alert",
                               entity_id=alert.id, payload=_payload(alert, rule))
            changed += 1
        for key, alert in open_alerts.items():
            if key not in breaches:
                alert.resolved_at = now
                await session.flush()
                await record_event(session, org_id=rule.org_id, type="alert.resolved", entity_type="alert",
                                   entity_id=alert.id, payload=_payload(alert, rule))
                changed += 1
    if changed:
        log.info("alerts_evaluated", rules=len(rules), changed=changed)
    return changed
