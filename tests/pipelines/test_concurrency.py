"""Racing writers through real connections and real commits: exactly one move wins per
version, the losers get 409/412 and change nothing, and the history stays one chain."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.core.db import Database
from app.core.events import Event
from app.pipelines.models import Opportunity, StageInterval, StageTransition
from tests.pipelines.helpers import stages

N = 12


async def _chain_is_consistent(database: Database, deal_id: str) -> tuple[int, int]:
    async with database.sessionmaker() as s:
        seqs = (await s.execute(select(StageTransition.seq).where(StageTransition.opportunity_id == deal_id)
                                .order_by(StageTransition.seq))).scalars().all()
        transitions = (await s.execute(select(StageTransition).where(StageTransition.opportunity_id == deal_id)
                                       .order_by(StageTransition.seq))).scalars().all()
        intervals = (await s.execute(select(StageInterval).where(StageInterval.opportunity_id == deal_id)
                                     .order_by(StageInterval.entered_at, StageInterval.id))).scalars().all()
        opp = await s.get(Opportunity, deal_id)
        events = await s.scalar(select(func.count()).select_from(Event).where(
            Event.entity_id == deal_id, Event.type == "opportunity.stage_changed"))
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    for before, after in zip(transitions, transitions[1:]):
        assert after.from_stage_id == before.to_stage_id  # each move starts where the last ended
    assert sum(1 for i in intervals if i.exited_at is None) == 1
    assert len(intervals) == len(transitions) and intervals[-1].stage_id == opp.stage_id
    assert opp.version == len(transitions)
    assert events == len(transitions) - 1
    return len(transitions), opp.version


async def test_concurrent_moves_with_the_same_if_match_exactly_one_wins(committed_client, committed_tenant, database):
    admin = committed_tenant.admin
    st = await stages(committed_client, admin)
    r = await committed_client.post("/v1/opportunities", json={"name": "race 竞争", "amount": "1", "expected_close_date": "2027-01-01"}, headers=admin.headers)
    deal = r.json()
    reason_id = (await committed_client.get("/v1/lost-reasons", headers=admin.headers)).json()["items"][0]["id"]
    # Three rounds, each N writers racing from the same version to different stages.
    rounds = [
        [{"to_stage_id": st["First contact"] if i % 2 else st["Needs analysis"]} for i in range(N)],
        [{"to_stage_id": st["Prospect identification"] if i % 2 else st["Quotation"], "reason": "race"}
         for i in range(N)],
        [{"to_stage_id": st["Lost"], "lost_reason_id": reason_id} for _ in range(N)],
    ]
    for version, bodies in enumerate(rounds, start=1):
        responses = await asyncio.gather(*(
            committed_client.post(f"/v1/opportunities/{deal['id']}/transitions", json=body,
                                  headers={**admin.headers, "If-Match": f'"{version}"'})
            for body in bodies
        ))
        codes = sorted(r.status_code for r in responses)
        assert codes.count(201) == 1, codes
        # Losers see a stale version (412) or, if they read before the winner committed,
        # the conditional write finds nothing to update (also 412 with If-Match).
        assert set(codes) <= {201, 412}, codes
    count, version = await _chain_is_consistent(database, deal["id"])
    assert (count, version) == (4, 4)
    # The read path outside a transaction (autocommit reader on the real pool) sees it.
    got = await committed_client.get(f"/v1/opportunities/{deal['id']}", headers=admin.headers)
    assert got.status_code == 200 and got.headers["etag"] == '"4"' and got.json()["status"] == "lost"
    listed = await committed_client.get("/v1/opportunities", params={"status": "lost"}, headers=admin.headers)
    assert [d["id"] for d in listed.json()["items"]] == [deal["id"]]


async def test_concurrent_moves_without_if_match_serialise_into_one_chain(committed_client, committed_tenant, database):
    admin = committed_tenant.admin
    st = await stages(committed_client, admin)
    deal = (await committed_client.post("/v1/opportunities", json={"name": "race 2"}, headers=admin.headers)).json()
    order = [st["First contact"], st["Needs analysis"], st["Prospect identification"]]
    responses = await asyncio.gather(*(
        committed_client.post(f"/v1/opportunities/{deal['id']}/transitions",
                              json={"to_stage_id": order[i % 3], "reason": "ping-pong"}, headers=admin.headers)
        for i in range(N)
    ))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 409}, codes
    assert 201 in codes
    count, _ = await _chain_is_consistent(database, deal["id"])
    assert count == 1 + codes.count(201)
