"""Scoring and grading: organisation rules -> points -> grade.

The SQL implementation serves a single lead (after create/update) and a whole organisation
(after a rule or threshold change); a bulk import scores its rows in Python with the same
conditions (`RowScorer`, tests/leads/test_import.py checks both agree) before copying them in.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import ColumnElement, FromClause, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core.audit import AuditAction, record_audit
from app.core.db import one_or_404
from app.core.etag import check_version
from app.core.events import record_event
from app.identity.models import Role
from app.identity.principal import Principal
from app.leads.models import Lead, LeadSettings, ScoringRule
from app.leads.rules import compile_condition, describe, grade_sql, score_sql
from app.leads.schemas import (
    LeadSettingsIn,
    ScoringRuleIn,
    ScoringRuleOut,
    ScoringRulePatch,
)
from app.leads.types import validate_whole

SCORED_FIELDS = ("source", "campaign", "region", "product_interest", "title", "company", "email", "phone", "company_size")
DEFAULTS = {"grade_a_min": 80, "grade_b_min": 50, "grade_c_min": 20, "response_target_minutes": 60}


async def get_settings_row(session: AsyncSession, org_id: uuid.UUID) -> LeadSettings:
    row = await session.get(LeadSettings, org_id)
    if row is None:
        await session.execute(pg_insert(LeadSettings).values(org_id=org_id, version=1).on_conflict_do_nothing())
        row = await session.get(LeadSettings, org_id)
    assert row is not None
    return row


async def active_rules(session: AsyncSession, org_id: uuid.UUID) -> list[ScoringRule]:
    rows = await session.scalars(
        select(ScoringRule).where(ScoringRule.org_id == org_id, ScoringRule.is_active)
        .order_by(ScoringRule.position, ScoringRule.id)
    )
    return list(rows)


class RowScorer:
    """The Python twin of score_sql for bulk import: rows are tuples, `positions` says
    where each scored field sits. Returns (score, grade, breakdown as JSON text), the
    breakdown listing the matching rules in rule order, as the SQL version does."""

    def __init__(self, rules: list[ScoringRule], thresholds: tuple[int, int, int], positions: dict[str, int]) -> None:
        self.tests = [
            (positions[r.field], compile_condition(r.field, r.operator, r.value), r.points,
             orjson.dumps({"rule_id": str(r.id), "name": r.name, "points": r.points,
                           "condition": describe(r.field, r.operator, r.value)}).decode())
            for r in rules
        ]
        self.thresholds = thresholds

    def __call__(self, row: tuple[Any, ...]) -> tuple[int, str, str]:
        score, parts = 0, []
        for pos, test, points, entry in self.tests:
            if test(row[pos]):
                score += points
                parts.append(entry)
        a, b, c = self.thresholds
        grade = "A" if score >= a else "B" if score >= b else "C" if score >= c else "D"
        return score, grade, "[" + ",".join(parts) + "]"


async def row_scorer(session: AsyncSession, org_id: uuid.UUID, positions: dict[str, int]) -> RowScorer:
    settings = await get_settings_row(session, org_id)
    return RowScorer(await active_rules(session, org_id),
                     (settings.grade_a_min, settings.grade_b_min, settings.grade_c_min), positions)


async def scoring_exprs(session: AsyncSession, org_id: uuid.UUID, rel: FromClause) -> tuple[ColumnElement[int], ColumnElement[Any], ColumnElement[str]]:
    """(score, breakdown, grade) expressions over `rel` (the lead table or a staging table)."""
    settings = await get_settings_row(session, org_id)
    rules = await active_rules(session, org_id)
    cols = {name: rel.c[name] for name in SCORED_FIELDS}
    score, breakdown = score_sql(cols, rules)
    return score, breakdown, grade_sql(score, settings.grade_a_min, settings.grade_b_min, settings.grade_c_min)


async def rescore(session: AsyncSession, org_id: uuid.UUID, *, lead: Lead | None = None) -> int:
    """Recompute one lead (and update the loaded object; its caller bumps the version as
    part of its own change) or every live lead of the org. The org-wide pass is one
    statement that writes only the leads whose score, grade or breakdown changes, each
    with a new version (their ETags change); it returns how many changed."""
    table = Lead.__table__
    score, breakdown, grade = await scoring_exprs(session, org_id, table)
    stmt = (
        update(table)
        .where(table.c.org_id == org_id, table.c.merged_into_id.is_(None))
        .values(score=score, grade=grade, score_breakdown=breakdown)
    )
    if lead is not None:
        stmt = stmt.where(table.c.id == lead.id).returning(table.c.score, table.c.grade, table.c.score_breakdown)
        row = (await session.execute(stmt)).one()
        for name, value in zip(("score", "grade", "score_breakdown"), row, strict=True):
            set_committed_value(lead, name, value)
        return 1
    changed = or_(table.c.score.is_distinct_from(score), table.c.grade.is_distinct_from(grade),
                  table.c.score_breakdown.is_distinct_from(breakdown))
    result = await session.execute(stmt.where(changed).values(version=table.c.version + 1))
    return result.rowcount or 0


# ---- settings and rules (admin) ----------------------------------------------------------

async def read_settings(session: AsyncSession, principal: Principal) -> LeadSettings:
    principal.require("leads", "read")
    return await get_settings_row(session, principal.org_id)


async def write_settings(session: AsyncSession, principal: Principal, data: LeadSettingsIn, *, if_match: str | None) -> LeadSettings:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    row = await get_settings_row(session, principal.org_id)
    check_version(row.version, if_match)
    before = {k: getattr(row, k) for k in DEFAULTS}
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    row.version += 1
    await session.flush()
    after = {k: getattr(row, k) for k in DEFAULTS}
    await record_audit(session, principal, entity_type="lead_settings", entity_id=principal.org_id,
                       action=AuditAction.update, before=before, after=after)
    rescored = await rescore(session, principal.org_id)
    await record_event(session, org_id=principal.org_id, type="lead_settings.updated", entity_type="lead_settings",
                       entity_id=principal.org_id, actor_id=principal.actor_id, payload={**after, "leads_rescored": rescored})
    return row


def _rule_dict(rule: ScoringRule) -> dict[str, Any]:
    return ScoringRuleOut.model_validate(rule).model_dump(mode="json")


async def list_rules(session: AsyncSession, principal: Principal) -> list[ScoringRule]:
    principal.require("leads", "read")
    rows = await session.scalars(
        select(ScoringRule).where(ScoringRule.org_id == principal.org_id).order_by(ScoringRule.position, ScoringRule.id)
    )
    return list(rows)


async def _get_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> ScoringRule:
    return await one_or_404(session, select(ScoringRule).where(
        ScoringRule.id == rule_id, ScoringRule.org_id == principal.org_id), "No scoring rule with that id", lock=True)


async def _after_rule_change(session: AsyncSession, principal: Principal, rule: ScoringRule, kind: str) -> None:
    rescored = await rescore(session, principal.org_id)
    await record_event(session, org_id=principal.org_id, type=f"lead_scoring_rule.{kind}", entity_type="lead_scoring_rule",
                       entity_id=rule.id, actor_id=principal.actor_id,
                       payload={"rule": _rule_dict(rule), "leads_rescored": rescored})


async def create_rule(session: AsyncSession, principal: Principal, data: ScoringRuleIn) -> ScoringRule:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    rule = ScoringRule(org_id=principal.org_id, version=1, **data.model_dump())
    session.add(rule)
    await session.flush()
    await record_audit(session, principal, entity_type="lead_scoring_rule", entity_id=rule.id,
                       action=AuditAction.create, after=_rule_dict(rule))
    await _after_rule_change(session, principal, rule, "created")
    return rule


async def update_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID, data: ScoringRulePatch,
                      *, if_match: str | None) -> ScoringRule:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    rule = await _get_rule(session, principal, rule_id)
    check_version(rule.version, if_match)
    before = _rule_dict(rule)
    changes = data.model_dump(exclude_unset=True)
    merged = {**{k: before[k] for k in ("name", "field", "operator", "value", "points", "position", "is_active")}, **changes}
    validate_whole(ScoringRuleIn, merged)  # the rule must stay valid as a whole
    for key, value in changes.items():
        setattr(rule, key, value)
    rule.version += 1
    await session.flush()
    await record_audit(session, principal, entity_type="lead_scoring_rule", entity_id=rule.id,
                       action=AuditAction.update, before=before, after=_rule_dict(rule))
    await _after_rule_change(session, principal, rule, "updated")
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    rule = await _get_rule(session, principal, rule_id)
    check_version(rule.version, if_match)
    before = _rule_dict(rule)
    await session.delete(rule)
    await session.flush()
    await record_audit(session, principal, entity_type="lead_scoring_rule", entity_id=rule.id,
                       action=AuditAction.delete, before=before)
    await _after_rule_change(session, principal, rule, "deleted")
