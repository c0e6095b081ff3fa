"""Alert rules: CRUD with ETag/If-Match, audit and events; the worker raises
alert.triggered once per breach and resolves it when the figure recovers."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.alerts import evaluate_rules
from app.core.audit import AuditEntry
from app.core.events import Event
from app.identity.models import Role
from app.pipelines.models import Opportunity
from tests.analytics.conftest import January
from tests.support.factories import Tenant
from tests.support.stage_history import PipelineHistory


async def events(session: AsyncSession, org, type_: str) -> list[Event]:  # type: ignore[no-untyped-def]
    return list(await session.scalars(select(Event).where(Event.org_id == org, Event.type == type_).order_by(Event.seq)))


async def test_rule_crud_with_etag_audit_and_events(client: httpx.AsyncClient, session: AsyncSession, january: January) -> None:
    tenant = january.history.tenant
    body = {"name": "Qualify converts badly", "kind": "stage_conversion_below", "threshold": "0.6",
            "pipeline_id": str(january.history.pipeline.id), "stage_id": str(january.history.stage("Qualify").id),
            "window_days": 30}
    res = await client.post("/v1/alert-rules", json=body, headers=tenant.admin.headers)
    assert res.status_code == 201, res.text
    rule = res.json()
    assert res.headers["etag"] == '"1"' and rule["threshold"] == "0.6000"
    res = await client.patch(f"/v1/alert-rules/{rule['id']}", json={"threshold": "0.5"},
                             headers={**tenant.admin.headers, "If-Match": '"7"'})
    assert res.status_code == 412
    res = await client.patch(f"/v1/alert-rules/{rule['id']}", json={"threshold": "0.55"},
                             headers={**tenant.admin.headers, "If-Match": '"1"'})
    assert res.status_code == 200 and res.json()["version"] == 2
    listed = (await client.get("/v1/alert-rules", headers=tenant.admin.headers)).json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    res = await client.delete(f"/v1/alert-rules/{rule['id']}", headers=tenant.admin.headers)
    assert res.status_code == 204
    assert (await client.get(f"/v1/alert-rules/{rule['id']}", headers=tenant.admin.headers)).status_code == 404
    kinds = [e.type for e in await session.scalars(select(Event).where(Event.org_id == tenant.id,
                                                                        Event.entity_type == "alert_rule"))]
    assert kinds == ["alert_rule.created", "alert_rule.updated", "alert_rule.deleted"]
    audits = await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == rule["id"]))
    assert audits == 3


async def test_invalid_rules_are_refused(client: httpx.AsyncClient, january: January, other_tenant: Tenant) -> None:
    admin = january.history.tenant.admin.headers
    base = {"name": "x", "kind": "stage_conversion_below", "threshold": "0.5"}
    assert (await client.post("/v1/alert-rules", json=base, headers=admin)).status_code == 422
    too_high = {**base, "threshold": "2", "pipeline_id": str(january.history.pipeline.id),
                "stage_id": str(january.history.stage("Qualify").id)}
    assert (await client.post("/v1/alert-rules", json=too_high, headers=admin)).json()["code"] == "invalid-alert-rule"
    foreign = await PipelineHistory.create(other_tenant, lost_reasons=())
    theirs = {**base, "pipeline_id": str(foreign.pipeline.id), "stage_id": str(foreign.stage("Qualify").id)}
    assert (await client.post("/v1/alert-rules", json=theirs, headers=admin)).status_code == 422
    assert (await client.post("/v1/alert-rules", json={**base, "org_id": "x"}, headers=admin)).status_code == 422
    rep = await january.history.tenant.add_user(Role.rep)
    ok = {"name": "stalled", "kind": "stalled_deals_above", "threshold": "1", "stalled_after_days": 10}
    assert (await client.post("/v1/alert-rules", json=ok, headers=rep.headers)).status_code == 403


async def test_conversion_alert_once_per_breach(client: httpx.AsyncClient, session: AsyncSession, january: January) -> None:
    tenant = january.history.tenant
    res = await client.post("/v1/alert-rules", headers=tenant.admin.headers, json={
        "name": "Prospect below 90%", "kind": "stage_conversion_below", "threshold": "0.9",
        "pipeline_id": str(january.history.pipeline.id), "stage_id": str(january.history.stage("Prospect").id),
        "window_days": 3660})
    rule_id = res.json()["id"]
    # Prospect: 6 entered since 2025-12-20 ... (D8 too, over this window): 7 entered, 6 advanced -> 0.857 < 0.9.
    assert await evaluate_rules(session, None) == 1  # type: ignore[arg-type]
    assert await evaluate_rules(session, None) == 0  # type: ignore[arg-type]  # same breach: nothing new
    triggered = await events(session, tenant.id, "alert.triggered")
    assert len(triggered) == 1
    payload = triggered[0].payload
    assert payload["rule_id"] == rule_id and payload["value"] == "0.8571" and payload["subject"]["entered"] == 7
    alerts = (await client.get("/v1/alerts", headers=tenant.admin.headers)).json()["items"]
    assert len(alerts) == 1 and alerts[0]["resolved_at"] is None
    # The rule relaxed: the breach is over, the alert resolves; tightened again: a new alert.
    await client.patch(f"/v1/alert-rules/{rule_id}", json={"threshold": "0.5"}, headers=tenant.admin.headers)
    assert await evaluate_rules(session, None) == 1  # type: ignore[arg-type]
    assert len(await events(session, tenant.id, "alert.resolved")) == 1
    await client.patch(f"/v1/alert-rules/{rule_id}", json={"threshold": "0.95"}, headers=tenant.admin.headers)
    assert await evaluate_rules(session, None) == 1  # type: ignore[arg-type]
    assert len(await events(session, tenant.id, "alert.triggered")) == 2
    every = (await client.get("/v1/alerts", params={"state": "all"}, headers=tenant.admin.headers)).json()["items"]
    assert len(every) == 2


async def test_stalled_deals_per_rep_and_visibility(client: httpx.AsyncClient, session: AsyncSession, january: January) -> None:
    tenant = january.history.tenant
    await client.post("/v1/alert-rules", headers=tenant.admin.headers, json={
        "name": "More than 2 stalled", "kind": "stalled_deals_above", "threshold": "2", "stalled_after_days": 30})
    # Open deals, all in their stage since January: rep A has D3 D4 D8, rep B D5 D6.
    assert await evaluate_rules(session, None) == 1  # type: ignore[arg-type]
    alerts = (await client.get("/v1/alerts", headers=tenant.admin.headers)).json()["items"]
    assert [a["owner_id"] for a in alerts] == [str(january.rep_a.id)]
    assert alerts[0]["value"] == "3.0000"
    assert (await client.get("/v1/alerts", headers=january.rep_a.headers)).json()["items"][0]["id"] == alerts[0]["id"]
    assert (await client.get("/v1/alerts", headers=january.rep_b.headers)).json()["items"] == []
    assert (await client.get("/v1/alerts", headers=january.manager.headers)).json()["items"] == []
    # D4 moves on now: rep A is down to 2 stalled deals; the alert resolves.
    await session.execute(update(Opportunity).where(Opportunity.id == january.deals["D4"].id).values(
        stage_entered_at=dt.datetime.now(dt.UTC)))
    assert await evaluate_rules(session, None) == 1  # type: ignore[arg-type]
    assert (await client.get("/v1/alerts", headers=tenant.admin.headers)).json()["items"] == []


async def test_a_deleted_deal_does_not_stall(client: httpx.AsyncClient, session: AsyncSession, january: January) -> None:
    tenant = january.history.tenant
    await client.post("/v1/alert-rules", headers=tenant.admin.headers, json={
        "name": "More than 2 stalled", "kind": "stalled_deals_above", "threshold": "2", "stalled_after_days": 30})
    # Rep A's stalled deals are D3 D4 D8; with D3 deleted through the API only 2 are left.
    res = await client.delete(f"/v1/opportunities/{january.deals['D3'].id}", headers=tenant.admin.headers)
    assert res.status_code == 204, res.text
    assert await evaluate_rules(session, None) == 0  # type: ignore[arg-type]
    assert (await client.get("/v1/alerts", headers=tenant.admin.headers)).json()["items"] == []
