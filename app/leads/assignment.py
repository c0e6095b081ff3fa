"""Lead routing: the first active rule (by position) whose conditions all hold picks a
user, or a team served round-robin. Unmatched leads stay in the unassigned queue.

Round-robin is fair under concurrency: the matching rule's row is locked while the next
member is chosen and recorded, so two leads arriving together get different reps.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditAction, record_audit
from app.core.db import one_or_404, utcnow
from app.core.errors import Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.identity.models import Role, Team, User
from app.identity.owners import resolve_owner
from app.identity.principal import Principal
from app.leads.models import AssignmentRule, Lead
from app.leads.rules import all_match
from app.leads.schemas import AssignmentRuleIn, AssignmentRuleOut

ROUTED_FIELDS = ("source", "campaign", "region", "product_interest", "title", "company", "email", "phone",
                 "company_size", "grade")


async def route(session: AsyncSession, lead: Lead) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(owner_id, rule_id) for the lead by the org's rules; (None, None) = the queue."""
    values = {f: getattr(lead, f) for f in ROUTED_FIELDS}
    rules = await session.scalars(
        select(AssignmentRule).where(AssignmentRule.org_id == lead.org_id, AssignmentRule.is_active)
        .order_by(AssignmentRule.position, AssignmentRule.id)
    )
    for rule in list(rules):
        if not all_match(values, rule.conditions):
            continue
        if rule.target_user_id is not None:
            active = await session.scalar(
                select(User.id).where(User.id == rule.target_user_id, User.org_id == lead.org_id, User.is_active)
            )
            if active:
                return active, rule.id
            continue
        owner = await _next_member(session, rule)
        if owner is not None:
            return owner, rule.id
    return None, None


async def _next_member(session: AsyncSession, rule: AssignmentRule) -> uuid.UUID | None:
    # The lock serialises concurrent routings through this rule; re-read after waiting.
    locked = await session.scalar(
        select(AssignmentRule).where(AssignmentRule.id == rule.id).with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    members = list(await session.scalars(
        select(User.id).where(User.org_id == locked.org_id, User.team_id == locked.target_team_id, User.is_active,
                              User.role.in_([Role.rep, Role.manager]))
        .order_by(User.id)
    ))
    if not members:
        return None
    last = locked.last_assigned_user_id
    following = [m for m in members if last is not None and m > last]
    chosen = following[0] if following else members[0]
    locked.last_assigned_user_id = chosen
    await session.flush()
    return chosen


async def apply_owner(session: AsyncSession, principal: Principal | None, lead: Lead, owner_id: uuid.UUID | None,
                      rule_id: uuid.UUID | None, *, actor_id: uuid.UUID | None) -> None:
    """Set the owner and write lead.assigned (what a rep's phone is notified from)."""
    previous = lead.owner_id
    lead.owner_id = owner_id
    lead.assigned_by_rule_id = rule_id
    lead.assigned_at = utcnow() if owner_id else None
    await session.flush()
    if principal is not None and previous != owner_id and lead.version > 1:
        await record_audit(session, principal, entity_type="lead", entity_id=lead.id, action=AuditAction.update,
                           before={"owner_id": previous}, after={"owner_id": owner_id})
    await record_event(
        session, org_id=lead.org_id, type="lead.assigned" if owner_id else "lead.queued", entity_type="lead",
        entity_id=lead.id, actor_id=actor_id,
        payload={"lead_id": lead.id, "owner_id": owner_id, "previous_owner_id": previous, "rule_id": rule_id,
                 "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
                 "company": lead.company, "source": lead.source, "grade": lead.grade, "score": lead.score},
    )


# ---- rules CRUD (admin) -----------------------------------------------------------------

def _dict(rule: AssignmentRule) -> dict[str, Any]:
    return AssignmentRuleOut.model_validate(rule).model_dump(mode="json")


async def _check_targets(session: AsyncSession, principal: Principal, data: AssignmentRuleIn) -> None:
    if data.target_user_id is not None:
        await resolve_owner(session, principal, data.target_user_id, field="target_user_id", what="leads")
    if data.target_team_id is not None:
        team = await session.scalar(select(Team.id).where(Team.id == data.target_team_id, Team.org_id == principal.org_id))
        if team is None:
            raise Unprocessable("target_team_id is not a team of this organisation",
                                errors=[{"loc": ["body", "target_team_id"], "msg": "unknown team", "type": "value_error"}])


async def list_rules(session: AsyncSession, principal: Principal) -> list[AssignmentRule]:
    principal.require("leads", "read")
    return list(await session.scalars(
        select(AssignmentRule).where(AssignmentRule.org_id == principal.org_id)
        .order_by(AssignmentRule.position, AssignmentRule.id)
    ))


async def create_rule(session: AsyncSession, principal: Principal, data: AssignmentRuleIn) -> AssignmentRule:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    await _check_targets(session, principal, data)
    values = data.model_dump(mode="json")
    values["target_user_id"], values["target_team_id"] = data.target_user_id, data.target_team_id
    rule = AssignmentRule(org_id=principal.org_id, version=1, **values)
    session.add(rule)
    await session.flush()
    await record_audit(session, principal, entity_type="lead_assignment_rule", entity_id=rule.id,
                       action=AuditAction.create, after=_dict(rule))
    await record_event(session, org_id=principal.org_id, type="lead_assignment_rule.created",
                       entity_type="lead_assignment_rule", entity_id=rule.id, actor_id=principal.actor_id,
                       payload={"rule": _dict(rule)})
    return rule


async def _get(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> AssignmentRule:
    stmt = select(AssignmentRule).where(AssignmentRule.id == rule_id, AssignmentRule.org_id == principal.org_id)
    return await one_or_404(session, stmt, "No assignment rule with that id", lock=True)


async def replace_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID, data: AssignmentRuleIn,
                       *, if_match: str | None) -> AssignmentRule:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    rule = await _get(session, principal, rule_id)
    check_version(rule.version, if_match)
    await _check_targets(session, principal, data)
    before = _dict(rule)
    values = data.model_dump(mode="json")
    values["target_user_id"], values["target_team_id"] = data.target_user_id, data.target_team_id
    for key, value in values.items():
        setattr(rule, key, value)
    rule.version += 1
    await session.flush()
    await record_audit(session, principal, entity_type="lead_assignment_rule", entity_id=rule.id,
                       action=AuditAction.update, before=before, after=_dict(rule))
    await record_event(session, org_id=principal.org_id, type="lead_assignment_rule.updated",
                       entity_type="lead_assignment_rule", entity_id=rule.id, actor_id=principal.actor_id,
                       payload={"rule": _dict(rule)})
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: uuid.UUID, *, if_match: str | None) -> None:
    principal.require("leads", "write")
    principal.require_role(Role.admin)
    rule = await _get(session, principal, rule_id)
    check_version(rule.version, if_match)
    before = _dict(rule)
    await session.delete(rule)
    await session.flush()
    await record_audit(session, principal, entity_type="lead_assignment_rule", entity_id=rule_id,
                       action=AuditAction.delete, before=before)
    await record_event(session, org_id=principal.org_id, type="lead_assignment_rule.deleted",
                       entity_type="lead_assignment_rule", entity_id=rule_id, actor_id=principal.actor_id,
                       payload={"rule": before})
