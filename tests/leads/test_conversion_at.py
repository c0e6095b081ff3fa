"""A back-dated conversion (`convert(..., at=...)`, the demo seed's historical data): the
lead, the deal and its first move all carry that time; only administrators may, and never
before the lead existed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.core.errors import DomainError
from app.identity.models import Role
from app.leads.conversion import convert
from app.leads.models import Lead, LeadStatus
from app.leads.schemas import ConvertRequest
from app.pipelines.errors import AdminOnly
from app.pipelines.models import Opportunity, StageInterval, StageTransition
from tests.support.factories import Tenant

CREATED = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


async def _lead(tenant: Tenant, owner_id) -> Lead:
    lead = Lead(org_id=tenant.id, owner_id=owner_id, source="event", last_name="Zhou", company="Backdate Ltd",
                status=LeadStatus.qualified, created_at=CREATED, version=1)
    tenant.session.add(lead)
    await tenant.session.flush()
    return lead


async def test_a_back_dated_conversion_dates_lead_deal_and_first_move(tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    lead = await _lead(tenant, rep.id)
    at = CREATED + dt.timedelta(days=2, hours=3)
    out = await convert(tenant.session, tenant.admin.principal, lead.id, ConvertRequest(amount="1000.00"),
                        if_match=None, at=at)
    opp = await tenant.session.get(Opportunity, out["opportunity_id"])
    assert lead.converted_at == at and opp.created_at == at and opp.lead_id == lead.id and opp.owner_id == rep.id
    first_visit = await tenant.session.scalar(select(StageInterval.entered_at).where(StageInterval.opportunity_id == opp.id))
    first_move = await tenant.session.scalar(select(StageTransition.occurred_at).where(StageTransition.opportunity_id == opp.id))
    assert first_visit == first_move == at


async def test_only_admins_back_date_and_never_before_the_lead(tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep)
    lead = await _lead(tenant, rep.id)
    with pytest.raises(AdminOnly):
        await convert(tenant.session, rep.principal, lead.id, ConvertRequest(), if_match=None,
                      at=CREATED + dt.timedelta(days=1))
    with pytest.raises(DomainError, match="before it was created"):
        await convert(tenant.session, tenant.admin.principal, lead.id, ConvertRequest(), if_match=None,
                      at=CREATED - dt.timedelta(hours=1))
    await tenant.session.refresh(lead)
    assert lead.status is LeadStatus.qualified and lead.converted_at is None
