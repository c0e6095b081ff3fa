"""Scoring rules -> score, grade and a readable breakdown; recomputed on rule changes."""

from __future__ import annotations

import httpx

from app.identity.models import Role
from tests.support.crm_data import lead_body
from tests.support.factories import Tenant

RULES = [
    {"name": "Referral", "field": "source", "operator": "eq", "value": "referral", "points": 20},
    {"name": "Big company", "field": "company_size", "operator": "gt", "value": 500, "points": 15},
    {"name": "No phone", "field": "phone", "operator": "is_empty", "points": -10},
    {"name": "Machines", "field": "product_interest", "operator": "in", "value": ["CNC", "Lathe"], "points": 55},
]


async def _rules(client: httpx.AsyncClient, tenant: Tenant) -> list[dict]:
    out = []
    for rule in RULES:
        r = await client.post("/v1/lead-scoring-rules", json=rule, headers=tenant.admin.headers)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


async def test_score_grade_and_breakdown(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await _rules(client, tenant)
    h = tenant.admin.headers
    r = await client.post("/v1/leads", json=lead_body(source="referral", company_size=800, phone=None, product_interest="cnc"), headers=h)
    lead = r.json()
    assert lead["score"] == 20 + 15 - 10 + 55 and lead["grade"] == "A"
    assert {(i["name"], i["points"], i["condition"]) for i in lead["score_breakdown"]} == {
        ("Referral", 20, "source = referral"), ("Big company", 15, "company_size > 500"),
        ("No phone", -10, "phone is empty"), ("Machines", 55, "product_interest in ['CNC', 'Lathe']")}
    low = (await client.post("/v1/leads", json=lead_body(source="event", email="x@y.example", company="Other"), headers=h)).json()
    assert low["score"] == 0 and low["grade"] == "D" and low["score_breakdown"] == []
    # Updating the lead rescores it.
    r = await client.patch(f"/v1/leads/{low['id']}", json={"source": "referral", "company_size": 501}, headers=h)
    assert r.json()["score"] == 35 and r.json()["grade"] == "C"


async def test_rule_and_threshold_changes_rescore_every_lead(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rules = await _rules(client, tenant)
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(source="referral"), headers=h)).json()
    assert lead["score"] == 20 and lead["grade"] == "C"
    r = await client.patch(f"/v1/lead-scoring-rules/{rules[0]['id']}", json={"points": 60}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["score"] == 60
    bad = await client.patch(f"/v1/lead-scoring-rules/{rules[0]['id']}", json={"operator": "gt"}, headers=h)
    assert bad.status_code == 422  # 'source > referral' is not a rule
    r = await client.put("/v1/lead-settings", json={"grade_a_min": 55, "grade_b_min": 30, "grade_c_min": 10,
                                                     "response_target_minutes": 30}, headers=h)
    assert r.status_code == 200
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["grade"] == "A"
    assert (await client.delete(f"/v1/lead-scoring-rules/{rules[0]['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["score"] == 0


async def test_rules_are_validated_and_admin_only(client: httpx.AsyncClient, tenant: Tenant) -> None:
    h = tenant.admin.headers
    for bad in ({**RULES[0], "operator": "gt"}, {**RULES[1], "value": "big"}, {**RULES[2], "value": "x"},
                {**RULES[3], "value": []}, {**RULES[0], "field": "owner_id"}):
        assert (await client.post("/v1/lead-scoring-rules", json=bad, headers=h)).status_code == 422, bad
    assert (await client.put("/v1/lead-settings", json={"grade_a_min": 10, "grade_b_min": 30, "grade_c_min": 5,
                                                         "response_target_minutes": 30}, headers=h)).status_code == 422
    rep = await tenant.add_user(Role.rep)
    assert (await client.post("/v1/lead-scoring-rules", json=RULES[0], headers=rep.headers)).status_code == 403


async def test_rule_values_out_of_range_are_a_422_and_change_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """company_size 2**40 did not fit the integer column (the rescore failed, a 500); a value
    over 2**63 could not be written to the audit trail (also a 500), for assignment rules too."""
    h = tenant.admin.headers
    lead = (await client.post("/v1/leads", json=lead_body(company_size=800), headers=h)).json()
    rule = (await client.post("/v1/lead-scoring-rules", json=RULES[1], headers=h)).json()
    for value in (2**40, 2**64, -1, 10_000_001):
        for body in ({**RULES[1], "value": value}, {**RULES[1], "operator": "in", "value": [500, value]}):
            r = await client.post("/v1/lead-scoring-rules", json=body, headers=h)
            assert r.status_code == 422 and "0 to 10000000" in r.text, (value, r.text)
        r = await client.patch(f"/v1/lead-scoring-rules/{rule['id']}", json={"value": value}, headers=h)
        assert r.status_code == 422 and "0 to 10000000" in r.text, (value, r.text)
        r = await client.post("/v1/lead-assignment-rules", headers=h, json={
            "name": "big", "target_user_id": str(tenant.admin.id),
            "conditions": [{"field": "company_size", "operator": "gte", "value": value}]})
        assert r.status_code == 422 and "0 to 10000000" in r.text, (value, r.text)
    for points in (2**64, 1001, -1001):
        r = await client.post("/v1/lead-scoring-rules", json={**RULES[1], "points": points}, headers=h)
        assert r.status_code == 422, points
    # Nothing changed: the one rule as it was, the lead scored by it, no assignment rule.
    rules = (await client.get("/v1/lead-scoring-rules", headers=h)).json()
    assert [(x["id"], x["value"], x["version"]) for x in (rules["items"] if isinstance(rules, dict) else rules)] == [
        (rule["id"], 500, 1)]
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=h)).json()["score"] == 15
    assigned = (await client.get("/v1/lead-assignment-rules", headers=h)).json()
    assert (assigned["items"] if isinstance(assigned, dict) else assigned) == []
    # The ends of the range are fine.
    r = await client.post("/v1/lead-scoring-rules", json={**RULES[1], "value": 10_000_000}, headers=h)
    assert r.status_code == 201, r.text


async def test_a_rescore_that_changes_a_lead_is_a_new_version(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Otherwise a client holding the old ETag overwrites the lead without noticing."""
    h = tenant.admin.headers
    big = await client.post("/v1/leads", json=lead_body(company_size=800), headers=h)
    small = await client.post("/v1/leads", json=lead_body(company_size=10, email="s@x.example", phone=None,
                                                          company="Small Co"), headers=h)
    assert big.headers["ETag"] == small.headers["ETag"] == '"1"'
    assert (await client.post("/v1/lead-scoring-rules", json=RULES[1], headers=h)).status_code == 201
    got = await client.get(f"/v1/leads/{big.json()['id']}", headers=h)
    assert got.json()["score"] == 15 and got.headers["ETag"] == '"2"'
    stale = await client.patch(f"/v1/leads/{big.json()['id']}", json={"title": "CEO"}, headers={**h, "If-Match": '"1"'})
    assert stale.status_code == 412
    # The lead whose score did not change keeps its version.
    assert (await client.get(f"/v1/leads/{small.json()['id']}", headers=h)).headers["ETag"] == '"1"'
    # Thresholds change grades: a new version for the lead whose grade moves.
    r = await client.put("/v1/lead-settings", json={"grade_a_min": 80, "grade_b_min": 50, "grade_c_min": 15,
                                                    "response_target_minutes": 60}, headers=h)
    assert r.status_code == 200, r.text
    got = await client.get(f"/v1/leads/{big.json()['id']}", headers=h)
    assert got.json()["grade"] == "C" and got.headers["ETag"] == '"3"'
    assert (await client.get(f"/v1/leads/{small.json()['id']}", headers=h)).headers["ETag"] == '"1"'
