"""Stalled deals: flagged in reads, filterable, one event per stall from the worker."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.core.events import Event
from app.pipelines.stalled import raise_stalled_events
from tests.pipelines.helpers import move, new_deal, stages


async def _stalled_events(session, deal_id):
    return await session.scalar(select(func.count()).select_from(Event).where(
        Event.entity_id == deal_id, Event.type == "opportunity.stalled"))


async def test_a_deal_past_its_stage_sla_is_flagged_filtered_and_raised_once(client, tenant, session):
    st = await stages(client, tenant.admin)  # Prospect identification: SLA 14 days
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).isoformat()
    stuck = await new_deal(client, tenant.admin, name="卡住的项目", created_at=old)
    fresh = await new_deal(client, tenant.admin, name="fresh")
    assert stuck["stalled"] is True and stuck["stalled_since"] is not None
    assert fresh["stalled"] is False and fresh["stalled_since"] is None
    r = await client.get("/v1/opportunities", params={"stalled": "true"}, headers=tenant.admin.headers)
    assert [d["id"] for d in r.json()["items"]] == [stuck["id"]]
    r = await client.get("/v1/opportunities", params={"stalled": "false"}, headers=tenant.admin.headers)
    assert [d["id"] for d in r.json()["items"]] == [fresh["id"]]

    assert await raise_stalled_events(session) >= 1
    assert await raise_stalled_events(session) == 0  # once per stall
    assert await _stalled_events(session, stuck["id"]) == 1
    assert await _stalled_events(session, fresh["id"]) == 0
    event = (await session.execute(select(Event).where(
        Event.entity_id == stuck["id"], Event.type == "opportunity.stalled"))).scalar_one()
    assert event.payload["stage"]["name"] == "Prospect identification"
    assert event.payload["sla_days"] == 14 and event.payload["days_in_stage"] >= 20

    # A move starts a new clock: not stalled any more; stalling again raises again.
    ten_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).isoformat()
    out = await move(client, tenant.admin, stuck["id"], st["First contact"], occurred_at=ten_days_ago)  # SLA 7
    assert out["opportunity"]["stalled"] is True
    assert await raise_stalled_events(session) >= 1
    assert await _stalled_events(session, stuck["id"]) == 2


async def test_closed_deals_are_never_stalled(client, tenant, session):
    st = await stages(client, tenant.admin)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=60)).isoformat()
    deal = await new_deal(client, tenant.admin, created_at=old, amount="5")
    out = await move(client, tenant.admin, deal["id"], st["Won"],
                     occurred_at=(dt.datetime.now(dt.UTC) - dt.timedelta(days=50)).isoformat())
    assert out["opportunity"]["stalled"] is False
    await raise_stalled_events(session)
    assert await _stalled_events(session, deal["id"]) == 0


async def test_the_worker_runs_the_stalled_job_with_real_commits(committed_client, committed_tenant, database, settings):
    from app.worker import run_once

    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat()
    r = await committed_client.post("/v1/opportunities", json={"name": "worker 停滞", "created_at": old},
                                    headers=committed_tenant.admin.headers)
    deal = r.json()
    handled = await run_once(database, settings)
    assert handled["opportunity-stalled"] >= 1
    assert (await run_once(database, settings))["opportunity-stalled"] == 0
    async with database.sessionmaker() as s:
        assert await _stalled_events(s, deal["id"]) == 1
