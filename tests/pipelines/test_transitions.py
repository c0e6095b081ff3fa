"""Stage transitions: every rule, for every caller; history, intervals and events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.core.events import Event
from app.identity.models import Role
from app.pipelines import criteria
from app.pipelines.models import StageInterval, StageTransition
from tests.pipelines.helpers import lost_reason, move, new_deal, stages

READY = {"amount": "50000.00", "expected_close_date": "2027-01-31"}


async def _intervals(session, deal_id):
    rows = (await session.execute(
        select(StageInterval).where(StageInterval.opportunity_id == deal_id).order_by(StageInterval.entered_at, StageInterval.id)
    )).scalars().all()
    return [(str(r.stage_id), r.exit_kind.value, r.exited_at is None) for r in rows]


async def test_advancing_closes_the_interval_opens_the_next_and_records_history(client, tenant, session):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    out = await move(client, tenant.admin, deal["id"], st["First contact"], note="called 张总")
    assert out["opportunity"]["stage"]["name"] == "First contact"
    assert out["opportunity"]["version"] == 2
    t = out["transition"]
    assert (t["kind"], t["from_stage_id"], t["to_stage_id"], t["seq"]) == (
        "advanced", st["Prospect identification"], st["First contact"], 2)
    assert t["actor_id"] == str(tenant.admin.id) and t["note"] == "called 张总"
    assert await _intervals(session, deal["id"]) == [
        (st["Prospect identification"], "advanced", False), (st["First contact"], "still_open", True)]
    history = (await client.get(f"/v1/opportunities/{deal['id']}/transitions", headers=tenant.admin.headers)).json()
    assert [(h["kind"], h["seq"]) for h in history["items"]] == [("created", 1), ("advanced", 2)]


async def test_stage_changed_event_carries_both_stages_amount_and_owner(client, tenant, session):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    await move(client, tenant.admin, deal["id"], st["Needs analysis"])
    event = (await session.execute(select(Event).where(
        Event.entity_id == deal["id"], Event.type == "opportunity.stage_changed"))).scalar_one()
    p = event.payload
    assert p["from_stage"]["name"] == "Prospect identification" and p["to_stage"]["name"] == "Needs analysis"
    assert p["to_stage"]["labels"] == {"zh-CN": "需求分析"}
    assert p["amount"] == "50000.00" and p["currency"] == "CNY"
    assert p["owner_id"] == str(tenant.admin.id)
    assert p["opportunity"]["stage_id"] == st["Needs analysis"] and p["opportunity"]["version"] == 2
    assert p["transition"]["kind"] == "advanced"
    assert event.actor_id == tenant.admin.id


async def test_every_unmet_entry_criterion_is_listed_and_nothing_changes(client, tenant, session):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin)  # no amount
    r = await client.post(f"/v1/opportunities/{deal['id']}/transitions",
                          json={"to_stage_id": st["Solution design"]}, headers=tenant.admin.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "stage-criteria-unmet"
    assert sorted(u["type"] for u in body["unmet"]) == ["field_set", "note_required"]
    assert all(u["message"] for u in body["unmet"])
    after = (await client.get(f"/v1/opportunities/{deal['id']}", headers=tenant.admin.headers)).json()
    assert after["version"] == 1 and after["stage_id"] == st["Prospect identification"]
    await client.patch(f"/v1/opportunities/{deal['id']}", json={"amount": "10"}, headers=tenant.admin.headers)
    await move(client, tenant.admin, deal["id"], st["Solution design"], note="需求已确认: 200 seats")


async def test_rules_hold_for_reps_too_and_only_admins_override_with_a_reason(client, tenant, session):
    st = await stages(client, tenant.admin)
    rep = await tenant.add_user(Role.rep)
    deal = await new_deal(client, rep)
    await move(client, rep, deal["id"], st["Quotation"], expect=422)
    r = await move(client, rep, deal["id"], st["Quotation"], expect=403, override=True, reason="boss said so")
    assert r["code"] == "admin-only"
    r = await move(client, tenant.admin, deal["id"], st["Quotation"], expect=422, override=True)
    assert r["code"] == "reason-required"
    out = await move(client, tenant.admin, deal["id"], st["Quotation"], override=True, reason="signed on paper")
    assert out["transition"]["override"] is True and out["transition"]["reason"] == "signed on paper"
    row = (await session.execute(select(StageTransition).where(
        StageTransition.opportunity_id == deal["id"], StageTransition.seq == 2))).scalar_one()
    assert row.override is True and row.reason == "signed on paper"


async def test_moving_backwards_needs_a_reason(client, tenant):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    await move(client, tenant.admin, deal["id"], st["Needs analysis"])
    r = await move(client, tenant.admin, deal["id"], st["First contact"], expect=422)
    assert r["code"] == "reason-required"
    out = await move(client, tenant.admin, deal["id"], st["First contact"], reason="contact left the company")
    assert out["transition"]["kind"] == "regressed"


async def test_lost_needs_a_reason_from_the_catalogue_and_is_terminal(client, tenant, other_tenant):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    assert (await move(client, tenant.admin, deal["id"], st["Lost"], expect=422))["code"] == "lost-reason-required"
    foreign = await lost_reason(client, other_tenant.admin)
    assert (await move(client, tenant.admin, deal["id"], st["Lost"], expect=422,
                       lost_reason_id=foreign))["code"] == "lost-reason-required"
    reason = await lost_reason(client, tenant.admin, "Lost to a competitor")
    out = await move(client, tenant.admin, deal["id"], st["Lost"], lost_reason_id=reason)
    assert out["opportunity"]["status"] == "lost" and out["opportunity"]["lost_reason_id"] == reason
    assert out["opportunity"]["closed_at"] is not None
    r = await move(client, tenant.admin, deal["id"], st["First contact"], expect=409, reason="try again")
    assert r["code"] == "opportunity-closed"


async def test_won_is_terminal_until_reopened_and_reopen_is_its_own_transition(client, tenant, session):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    await move(client, tenant.admin, deal["id"], st["Quotation"])
    won = await move(client, tenant.admin, deal["id"], st["Won"])
    assert won["opportunity"]["status"] == "won" and won["transition"]["kind"] == "won"
    assert (await move(client, tenant.admin, deal["id"], st["Quotation"], expect=409, reason="x"))["code"] == "opportunity-closed"
    r = await client.post(f"/v1/opportunities/{deal['id']}/reopen", json={}, headers=tenant.admin.headers)
    assert r.status_code == 422  # a reason is required
    r = await client.post(f"/v1/opportunities/{deal['id']}/reopen", json={"reason": "contract fell through"},
                          headers=tenant.admin.headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["transition"]["kind"] == "reopened"
    assert out["opportunity"]["status"] == "open" and out["opportunity"]["stage_id"] == st["Quotation"]
    assert out["opportunity"]["closed_at"] is None
    intervals = await _intervals(session, deal["id"])
    assert intervals[-2] == (st["Won"], "reopened", False)
    assert intervals[-1] == (st["Quotation"], "still_open", True)
    types = (await session.execute(select(Event.type).where(Event.entity_id == deal["id"]).order_by(Event.seq))).scalars().all()
    assert types[-1] == "opportunity.reopened"
    r = await client.post(f"/v1/opportunities/{deal['id']}/reopen", json={"reason": "again"}, headers=tenant.admin.headers)
    assert r.status_code == 409


async def test_a_stage_of_another_pipeline_needs_an_explicit_pipeline_change(client, tenant, session):
    r = await client.post("/v1/pipelines", headers=tenant.admin.headers, json={
        "name": "Renewals 续约", "stages": [
            {"name": "Due", "kind": "open", "probability": "0.5", "sla_days": 30},
            {"name": "Renewed", "kind": "won", "probability": "1"},
            {"name": "Churned", "kind": "lost", "probability": "0"}]})
    assert r.status_code == 201, r.text
    due = r.json()["stages"][0]["id"]
    deal = await new_deal(client, tenant.admin)
    assert (await move(client, tenant.admin, deal["id"], due, expect=409))["code"] == "stage-of-other-pipeline"
    out = await move(client, tenant.admin, deal["id"], due, change_pipeline=True)
    assert out["transition"]["kind"] == "pipeline_changed"
    assert out["opportunity"]["pipeline_id"] == r.json()["id"]
    interval = (await _intervals(session, deal["id"]))[0]
    assert interval[1] == "moved"


async def test_backdated_moves_are_admin_only_and_bounded(client, tenant):
    st = await stages(client, tenant.admin)
    now = dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(days=200)).isoformat()
    deal = await new_deal(client, tenant.admin, created_at=start, **READY)
    assert deal["created_at"].startswith(start[:19]) and deal["stage_entered_at"] == deal["created_at"]
    rep = await tenant.add_user(Role.rep)
    r = await client.post("/v1/opportunities", json={"name": "x", "created_at": start}, headers=rep.headers)
    assert r.status_code == 403
    t1 = (now - dt.timedelta(days=150)).isoformat()
    await move(client, tenant.admin, deal["id"], st["First contact"], occurred_at=t1)
    r = await move(client, tenant.admin, deal["id"], st["Needs analysis"], expect=422,
                   occurred_at=(now - dt.timedelta(days=160)).isoformat())
    assert r["code"] == "invalid-time"
    r = await move(client, tenant.admin, deal["id"], st["Needs analysis"], expect=422,
                   occurred_at=(now + dt.timedelta(days=1)).isoformat())
    assert r["code"] == "invalid-time"
    r = await move(client, tenant.admin, deal["id"], st["Needs analysis"], expect=422, occurred_at="2026-01-01T00:00:00")
    out = await move(client, tenant.admin, deal["id"], st["Needs analysis"],
                     occurred_at=(now - dt.timedelta(days=100)).isoformat())
    assert out["transition"]["occurred_at"].startswith((now - dt.timedelta(days=100)).isoformat()[:19])
    rep_deal = await new_deal(client, rep)
    r = await move(client, rep, rep_deal["id"], st["First contact"], expect=403, occurred_at=t1)
    assert r["code"] == "admin-only"


async def test_stale_if_match_is_refused_with_412(client, tenant):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin)
    await move(client, tenant.admin, deal["id"], st["First contact"], headers={"If-Match": '"1"'})
    r = await move(client, tenant.admin, deal["id"], st["Needs analysis"], expect=412, headers={"If-Match": '"1"'})
    assert r["code"] == "precondition-failed"


async def test_same_stage_retired_stage_and_unknown_stage_are_refused(client, tenant):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin)
    assert (await move(client, tenant.admin, deal["id"], st["Prospect identification"], expect=409))["code"] == "already-in-stage"
    r = await client.patch(f"/v1/stages/{st['First contact']}", json={"is_retired": True}, headers=tenant.admin.headers)
    assert r.status_code == 200, r.text
    assert (await move(client, tenant.admin, deal["id"], st["First contact"], expect=422))["code"] == "invalid-transition"
    await move(client, tenant.admin, deal["id"], "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11", expect=422)


async def test_external_checks_plug_in_through_the_registry(client, tenant):
    st = await stages(client, tenant.admin)
    deal = await new_deal(client, tenant.admin, **READY)
    await move(client, tenant.admin, deal["id"], st["Quotation"])
    accepted: set[str] = set()

    async def quote_accepted(session, principal, opportunity):
        return None if str(opportunity["id"]) in accepted else "No accepted quote"

    criteria.register_external_check("quote_accepted", quote_accepted)
    try:
        pipe = (await client.get("/v1/pipelines", headers=tenant.admin.headers)).json()["items"][0]
        negotiation = next(s for s in pipe["stages"] if s["name"] == "Negotiation and signing")
        assert negotiation["criteria"][0]["status"] == "enforced"
        r = await move(client, tenant.admin, deal["id"], st["Negotiation and signing"], expect=422)
        assert r["unmet"][0]["check"] == "quote_accepted"
        accepted.add(deal["id"])
        await move(client, tenant.admin, deal["id"], st["Negotiation and signing"])
    finally:
        criteria.unregister_external_check("quote_accepted")


async def test_viewers_cannot_move_and_reps_cannot_move_others_deals(client, tenant):
    st = await stages(client, tenant.admin)
    viewer = await tenant.add_user(Role.viewer)
    rep = await tenant.add_user(Role.rep)
    deal = await new_deal(client, tenant.admin)
    await move(client, viewer, deal["id"], st["First contact"], expect=403)
    await move(client, rep, deal["id"], st["First contact"], expect=404)


async def test_history_cannot_be_edited(session, client, tenant):
    import pytest
    from sqlalchemy import update
    from sqlalchemy.exc import DBAPIError

    deal = await new_deal(client, tenant.admin)
    nested = await session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(update(StageTransition).where(StageTransition.opportunity_id == deal["id"]).values(note="x"))
    await nested.rollback()
