"""Pipelines and stages: the default pipeline, creation in one call, and changes that
never rewrite history (rename, reorder, retire), all admin-only."""

from __future__ import annotations

from app.identity.models import Role
from tests.pipelines.helpers import default_pipeline, move, new_deal, stages

RENEWALS = {
    "name": "Renewals 续约",
    "stages": [
        {"name": "Renewal due", "labels": {"zh-CN": "待续约"}, "kind": "open", "probability": "0.5", "sla_days": 30},
        {"name": "Quote sent", "kind": "open", "probability": "0.7", "sla_days": 14,
         "criteria": [{"type": "field_set", "field": "amount"}]},
        {"name": "Renewed", "kind": "won", "probability": "1"},
        {"name": "Churned", "kind": "lost", "probability": "0"},
    ],
}


async def test_a_new_organisation_has_the_default_bilingual_pipeline_and_lost_reasons(client, tenant):
    pipeline = await default_pipeline(client, tenant.admin)
    names = [(s["name"], s["labels"]["zh-CN"], s["kind"]) for s in pipeline["stages"]]
    assert names == [
        ("Prospect identification", "商机识别", "open"), ("First contact", "初步接触", "open"),
        ("Needs analysis", "需求分析", "open"), ("Solution design", "方案设计", "open"),
        ("Quotation", "报价", "open"), ("Negotiation and signing", "谈判签约", "open"),
        ("Won", "赢单", "won"), ("Lost", "输单", "lost"),
    ]
    probabilities = [float(s["probability"]) for s in pipeline["stages"][:6]]
    assert probabilities == sorted(probabilities) and all(s["sla_days"] for s in pipeline["stages"][:6])
    negotiation = pipeline["stages"][5]
    assert negotiation["criteria"][0] == {
        "type": "external", "check": "quote_accepted", "message": "A quote must be accepted by the customer",
        "status": "pending"}
    reasons = (await client.get("/v1/lost-reasons", headers=tenant.admin.headers)).json()["items"]
    assert len(reasons) >= 5 and all(r["labels"].get("zh-CN") for r in reasons)


async def test_create_a_pipeline_with_its_stages_in_one_call(client, tenant):
    r = await client.post("/v1/pipelines", json=RENEWALS, headers=tenant.admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["etag"] == '"1"'
    assert [(s["name"], s["position"]) for s in body["stages"]] == [
        ("Renewal due", 1), ("Quote sent", 2), ("Renewed", 3), ("Churned", 4)]
    assert all(s["id"] for s in body["stages"]) and body["is_default"] is False
    listed = (await client.get("/v1/pipelines", headers=tenant.admin.headers)).json()["items"]
    assert {p["name"] for p in listed} == {"New business 新业务", "Renewals 续约"}
    # A deal can be created in it explicitly; the first open stage is used.
    deal = await new_deal(client, tenant.admin, pipeline_id=body["id"])
    assert deal["stage_id"] == body["stages"][0]["id"]


async def test_invalid_pipelines_are_refused_with_the_reason(client, tenant):
    bad = [
        {**RENEWALS, "stages": [s for s in RENEWALS["stages"] if s["kind"] != "won"]},
        {**RENEWALS, "stages": [RENEWALS["stages"][2], *RENEWALS["stages"][:2], RENEWALS["stages"][3]]},
        {**RENEWALS, "stages": [RENEWALS["stages"][0], RENEWALS["stages"][0], *RENEWALS["stages"][2:]]},
        {**RENEWALS, "stages": [{**RENEWALS["stages"][0], "probability": "1.5"}, *RENEWALS["stages"][1:]]},
        {**RENEWALS, "stages": [{**RENEWALS["stages"][0], "criteria": [{"type": "external", "check": "nope"}]},
                                *RENEWALS["stages"][1:]]},
        {**RENEWALS, "org_id": "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11"},
    ]
    for body in bad:
        r = await client.post("/v1/pipelines", json=body, headers=tenant.admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    listed = (await client.get("/v1/pipelines", headers=tenant.admin.headers)).json()["items"]
    assert len(listed) == 1


async def test_only_admins_configure_pipelines(client, tenant):
    manager = await tenant.add_user(Role.manager)
    for actor in (manager, await tenant.add_user(Role.rep)):
        assert (await client.post("/v1/pipelines", json=RENEWALS, headers=actor.headers)).status_code == 403
        st = await stages(client, actor)  # but everyone reads them
        r = await client.patch(f"/v1/stages/{st['Quotation']}", json={"name": "x"}, headers=actor.headers)
        assert r.status_code == 403


async def test_rename_reorder_and_retire_keep_history_pointing_at_the_same_stage(client, tenant):
    pipeline = await default_pipeline(client, tenant.admin)
    st = {s["name"]: s["id"] for s in pipeline["stages"]}
    deal = await new_deal(client, tenant.admin)
    await move(client, tenant.admin, deal["id"], st["First contact"])
    r = await client.patch(f"/v1/stages/{st['First contact']}", headers=tenant.admin.headers,
                           json={"name": "Initial call", "labels": {"zh-CN": "首次通话"}, "sla_days": 5})
    assert r.status_code == 200 and r.json()["name"] == "Initial call" and r.headers["etag"] == '"2"'
    history = (await client.get(f"/v1/opportunities/{deal['id']}/transitions", headers=tenant.admin.headers)).json()
    assert history["items"][-1]["to_stage_id"] == st["First contact"]
    got = (await client.get(f"/v1/opportunities/{deal['id']}", headers=tenant.admin.headers)).json()
    assert got["stage"]["name"] == "Initial call"

    order = [st[n] for n in ("First contact", "Prospect identification", "Needs analysis", "Solution design",
                             "Quotation", "Negotiation and signing", "Won", "Lost")]
    r = await client.put(f"/v1/pipelines/{pipeline['id']}/stage-order", json={"stage_ids": order},
                         headers={**tenant.admin.headers, "If-Match": f'"{pipeline["version"]}"'})
    assert r.status_code == 200, r.text
    assert [s["id"] for s in r.json()["stages"]] == order
    bad = [*order[:5], order[6], order[5], order[7]]  # an open stage after won
    r = await client.put(f"/v1/pipelines/{pipeline['id']}/stage-order", json={"stage_ids": bad}, headers=tenant.admin.headers)
    assert r.status_code == 422
    r = await client.put(f"/v1/pipelines/{pipeline['id']}/stage-order", json={"stage_ids": order[:-1]}, headers=tenant.admin.headers)
    assert r.status_code == 422

    # Retiring a stage that holds open deals is refused; once empty it is allowed.
    r = await client.patch(f"/v1/stages/{st['First contact']}", json={"is_retired": True}, headers=tenant.admin.headers)
    assert r.status_code == 409 and r.json()["code"] == "stage-in-use"
    await move(client, tenant.admin, deal["id"], st["Needs analysis"])
    r = await client.patch(f"/v1/stages/{st['First contact']}", json={"is_retired": True}, headers=tenant.admin.headers)
    assert r.status_code == 200 and r.json()["is_retired"] is True
    history = (await client.get(f"/v1/opportunities/{deal['id']}/transitions", headers=tenant.admin.headers)).json()
    assert [h["to_stage_id"] for h in history["items"]] == [st["Prospect identification"], st["First contact"], st["Needs analysis"]]
    r = await client.patch(f"/v1/stages/{st['Won']}", json={"is_retired": True}, headers=tenant.admin.headers)
    assert r.status_code == 422


async def test_add_a_stage_and_stale_versions(client, tenant):
    pipeline = await default_pipeline(client, tenant.admin)
    r = await client.post(f"/v1/pipelines/{pipeline['id']}/stages", headers=tenant.admin.headers,
                          json={"name": "Technical review 技术评审", "probability": "0.5", "sla_days": 10, "position": 5,
                                "criteria": [{"type": "amount_at_least", "value": "1000"}]})
    assert r.status_code == 201, r.text
    names = [s["name"] for s in r.json()["stages"]]
    assert names[4] == "Technical review 技术评审" and names[-2:] == ["Won", "Lost"]
    r = await client.post(f"/v1/pipelines/{pipeline['id']}/stages", headers=tenant.admin.headers,
                          json={"name": "After won", "probability": "0.5", "position": 9})
    assert r.status_code == 422
    r = await client.post(f"/v1/pipelines/{pipeline['id']}/stages", headers={**tenant.admin.headers, "If-Match": '"1"'},
                          json={"name": "Another", "probability": "0.5"})
    assert r.status_code == 412


async def test_default_pipeline_switch_and_archive_rules(client, tenant):
    old = await default_pipeline(client, tenant.admin)
    new = (await client.post("/v1/pipelines", json=RENEWALS, headers=tenant.admin.headers)).json()
    r = await client.patch(f"/v1/pipelines/{old['id']}", json={"is_archived": True}, headers=tenant.admin.headers)
    assert r.status_code == 409
    r = await client.patch(f"/v1/pipelines/{new['id']}", json={"is_default": True}, headers=tenant.admin.headers)
    assert r.status_code == 200 and r.json()["is_default"] is True
    r = await client.patch(f"/v1/pipelines/{old['id']}", json={"is_archived": True}, headers=tenant.admin.headers)
    assert r.status_code == 200
    listed = (await client.get("/v1/pipelines", headers=tenant.admin.headers)).json()["items"]
    assert [p["id"] for p in listed] == [new["id"]]
    deal = await new_deal(client, tenant.admin)  # lands in the new default
    assert deal["pipeline_id"] == new["id"]


async def test_lost_reason_catalogue_is_admin_managed(client, tenant):
    r = await client.post("/v1/lost-reasons", json={"name": "Timing 时机不对", "labels": {"en": "Timing"}},
                          headers=tenant.admin.headers)
    assert r.status_code == 201
    dup = await client.post("/v1/lost-reasons", json={"name": "Timing 时机不对"}, headers=tenant.admin.headers)
    assert dup.status_code == 409
    rep = await tenant.add_user(Role.rep)
    assert (await client.post("/v1/lost-reasons", json={"name": "x"}, headers=rep.headers)).status_code == 403
    r2 = await client.patch(f"/v1/lost-reasons/{r.json()['id']}", json={"is_active": False}, headers=tenant.admin.headers)
    assert r2.status_code == 200
    active = (await client.get("/v1/lost-reasons", headers=tenant.admin.headers)).json()["items"]
    assert r.json()["id"] not in [x["id"] for x in active]
    everything = (await client.get("/v1/lost-reasons", params={"include_inactive": "true"}, headers=tenant.admin.headers)).json()
    assert r.json()["id"] in [x["id"] for x in everything["items"]]
