"""A small January 2026 history in which every figure is worked out by hand.

Pipeline stages: Prospect(10) Qualify(20) Proposal(30) Negotiation(40), Won, Lost.
Days are counted from T0 = Monday 2026-01-05 09:00 UTC.

  D1 rep A  Prospect d0 -> Qualify d2 -> Proposal d5 -> Negotiation d9 -> Won d14
  D2 rep A  Prospect d0 -> Qualify d3 -> Lost d6 (Price)                       amount 500
  D3 rep A  Prospect d1 -> Proposal d4 (skips Qualify), open
  D4 rep A  Prospect d1 -> Qualify d2 -> Proposal d4 -> Qualify d6 -> Proposal d8, open
  D5 rep B  Prospect d2, open
  D6 rep B  Prospect d2 -> Lost d3 -> reopened to Prospect d5 -> Qualify d7, open
  D8 rep A  Prospect 2025-12-20 (before the period) -> Qualify d1, open
  Other organisation: a deal won through every stage in the same days (must never count).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from app.identity.models import Role
from tests.support.factories import Actor, Tenant
from tests.support.stage_history import Deal, PipelineHistory, at

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


@dataclass
class January:
    history: PipelineHistory
    rep_a: Actor
    rep_b: Actor
    manager: Actor
    deals: dict[str, Deal]

    def params(self, **extra: str) -> dict[str, str]:
        return {"pipeline_id": str(self.history.pipeline.id), **JANUARY, **extra}


@pytest.fixture
async def january(tenant: Tenant, other_tenant: Tenant) -> January:
    manager = await tenant.add_user(Role.manager, name="Mia Manager")
    east = await tenant.add_team("East 华东", manager=manager)
    rep_a = await tenant.add_user(Role.rep, name="Ann Rep")
    rep_b = await tenant.add_user(Role.rep, team=east, name="Bo Rep")
    h = await PipelineHistory.create(tenant)
    deals: dict[str, Deal] = {}

    deals["D1"] = d = await h.open_deal(rep_a, when=at(0), amount="1000.00", expected_close=dt.date(2026, 1, 20))
    await h.path(d, ("Qualify", 2), ("Proposal", 5), ("Negotiation", 9), ("Won", 14))
    deals["D2"] = d = await h.open_deal(rep_a, when=at(0), amount="500.00", source="event")
    await h.path(d, ("Qualify", 3), ("Lost", 6))
    deals["D3"] = d = await h.open_deal(rep_a, when=at(1), amount="2000.00", expected_close=dt.date(2026, 2, 10))
    await h.path(d, ("Proposal", 4))
    deals["D4"] = d = await h.open_deal(rep_a, when=at(1), amount="3000.00", expected_close=dt.date(2026, 2, 20))
    await h.path(d, ("Qualify", 2), ("Proposal", 4), ("Qualify", 6), ("Proposal", 8))
    deals["D5"] = await h.open_deal(rep_b, when=at(2), amount="400.00", source="event", expected_close=dt.date(2026, 1, 25))
    deals["D6"] = d = await h.open_deal(rep_b, when=at(2), amount="600.00")
    await h.path(d, ("Lost", 3), ("Prospect", 5), ("Qualify", 7))
    deals["D8"] = d = await h.open_deal(rep_a, when=dt.datetime(2025, 12, 20, 9, tzinfo=dt.UTC), amount="800.00")
    await h.path(d, ("Qualify", 1))

    other_rep = await other_tenant.add_user(Role.rep)
    oh = await PipelineHistory.create(other_tenant)
    od = await oh.open_deal(other_rep, when=at(0))
    await oh.path(od, ("Qualify", 1), ("Proposal", 2), ("Negotiation", 3), ("Won", 4))
    return January(history=h, rep_a=rep_a, rep_b=rep_b, manager=manager, deals=deals)
