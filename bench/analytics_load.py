"""Load a large sales history for the analytics benchmark: 1,000,000 opportunities with
about 5,000,000 stage transitions (and as many stage intervals), by COPY, into a
dedicated database (default crm_bench_analytics), migrated by Alembic like production.

The analytics triggers run during the load exactly as for any writer: each COPY
statement refreshes the stage summary and rollup of the deals it touched. As PostgreSQL's
"Populating a Database" advises, the foreign keys of the three loaded tables are dropped
for the COPY and added back (and so validated in one pass each) at the end.

    .venv/bin/python bench/analytics_load.py --server postgresql://postgres@127.0.0.1:5432 [--deals 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import time
import uuid
from decimal import Decimal

import asyncpg

from app.core import embedded
from app.core.migrations import upgrade_to_head

STAGES = [("Lead in 线索", "0.05"), ("Contacted", "0.1"), ("Needs analysis 需求分析", "0.2"),
          ("Solution design", "0.4"), ("Quotation 报价", "0.6"), ("Negotiation", "0.8")]
SOURCES = ["web", "referral", "event", "partner", "cold_call", "ads"]
REASONS = ["Price", "Competitor", "No budget", "No decision", "Timing"]
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
SPAN_DAYS = 730
CHUNK = 100_000
LOADED = ("opportunity", "stage_interval", "stage_transition")


def uid() -> uuid.UUID:
    return uuid.uuid4()


def simulate(rng: random.Random, n_open: int) -> list[tuple[str, int, float]]:
    """A deal's path: (kind, target index, days after creation). Index n_open = won, n_open+1 = lost."""
    won, lost = n_open, n_open + 1
    steps: list[tuple[str, int, float]] = [("created", 0, 0.0)]
    cur, t = 0, 0.0
    for _ in range(30):
        t += rng.expovariate(1 / 6.0)
        r = rng.random()
        if cur == lost:
            if r < 0.08:  # reopened
                cur = rng.randrange(0, n_open)
                steps.append(("reopened", cur, t))
                continue
            break
        if cur == won:
            break
        if r < 0.76:
            nxt = cur + (2 if rng.random() < 0.06 else 1)
            cur = won if nxt >= n_open else nxt
            steps.append(("won" if cur == won else "advanced", cur, t))
        elif r < 0.84:
            cur = lost
            steps.append(("lost", cur, t))
        elif r < 0.95 and cur > 0:
            cur = rng.randrange(0, cur)
            steps.append(("regressed", cur, t))
        else:
            break  # still open in this stage
    return steps


async def main(args: argparse.Namespace) -> None:
    server = args.server.rstrip("/")
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{args.database}"')
    await admin.close()
    url = embedded.database_url(server, args.database)
    started = time.perf_counter()
    await asyncio.to_thread(upgrade_to_head, url)
    conn = await asyncpg.connect(url)
    await conn.execute("SET work_mem = '256MB'")
    rng = random.Random(20261123)

    org = uid()
    await conn.execute("INSERT INTO org (id, name) VALUES ($1, 'Bench Co 基准公司')", org)
    teams = [uid() for _ in range(5)]
    for i, team in enumerate(teams):
        await conn.execute("INSERT INTO team (id, org_id, name, version) VALUES ($1, $2, $3, 1)", team, org, f"Team {i}")
    admin_id = uid()
    await conn.execute("INSERT INTO \"user\" (id, org_id, email, full_name, role, version) VALUES "
                       "($1, $2, 'admin@bench.example', 'Bench Admin', 'admin', 1)", admin_id, org)
    reps = []
    for i in range(args.reps):
        rep, team = uid(), teams[i % len(teams)]
        reps.append((rep, team))
        await conn.execute("INSERT INTO \"user\" (id, org_id, email, full_name, role, team_id, version) VALUES "
                           "($1, $2, $3, $4, 'rep', $5, 1)", rep, org, f"rep{i}@bench.example", f"Rep {i}", team)
    pipeline = uid()
    await conn.execute("INSERT INTO pipeline (id, org_id, name, is_default, version) VALUES ($1, $2, 'Enterprise', true, 1)",
                       pipeline, org)
    stage_ids = []
    specs = [(n, p, "open") for n, p in STAGES] + [("Won 赢单", "1", "won"), ("Lost 输单", "0", "lost")]
    for pos, (name, prob, kind) in enumerate(specs, start=1):
        sid = uid()
        stage_ids.append(sid)
        await conn.execute("INSERT INTO stage (id, org_id, pipeline_id, name, position, kind, probability, version) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, 1)", sid, org, pipeline, name, pos * 10, kind, Decimal(prob))
    reasons = []
    for name in REASONS:
        rid = uid()
        reasons.append(rid)
        await conn.execute("INSERT INTO lost_reason (id, org_id, name) VALUES ($1, $2, $3)", rid, org, name)
    setup_s = time.perf_counter() - started

    fks = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY($1::text[])", list(LOADED))
    for fk in fks:
        await conn.execute(f'ALTER TABLE "{fk["tbl"]}" DROP CONSTRAINT "{fk["conname"]}"')

    n_open = len(STAGES)
    totals = {"opportunity": 0, "stage_interval": 0, "stage_transition": 0}
    copy_s = 0.0
    for chunk_start in range(0, args.deals, CHUNK):
        opps, intervals, transitions = [], [], []
        for k in range(chunk_start, min(args.deals, chunk_start + CHUNK)):
            opp = uid()
            owner, team = reps[rng.randrange(len(reps))]
            created = NOW - dt.timedelta(days=rng.random() * SPAN_DAYS)
            steps = [(kind, idx, created + dt.timedelta(days=d)) for kind, idx, d in simulate(rng, n_open)]
            steps = [s for s in steps if s[2] < NOW] or steps[:1]
            amount = Decimal(rng.randrange(100_000, 10_000_000)) / 100
            lost_reason = None
            prev_idx = None
            for j, (kind, idx, when) in enumerate(steps):
                exit_at, exit_kind = None, "still_open"
                if j + 1 < len(steps):
                    exit_at, exit_kind = steps[j + 1][2], steps[j + 1][0]
                intervals.append((uid(), org, opp, pipeline, stage_ids[idx], owner, team, when, exit_at, exit_kind))
                lr = reasons[rng.randrange(len(reasons))] if kind == "lost" else None
                lost_reason = lr if kind == "lost" else (None if kind == "reopened" else lost_reason)
                transitions.append((uid(), org, opp, kind, stage_ids[prev_idx] if prev_idx is not None else None,
                                    stage_ids[idx], pipeline if prev_idx is not None else None, pipeline, owner, when,
                                    lr, amount))
                prev_idx = idx
            last_kind, last_idx, last_at = steps[-1]
            status = "won" if last_idx == n_open else "lost" if last_idx == n_open + 1 else "open"
            opps.append((opp, org, f"Deal {k}", owner, team, pipeline, stage_ids[last_idx], last_at, status, amount,
                         "CNY", (created + dt.timedelta(days=rng.randrange(20, 120))).date(),
                         SOURCES[rng.randrange(len(SOURCES))], lost_reason if status == "lost" else None,
                         last_at if status != "open" else None, 1, created, last_at))
        t = time.perf_counter()
        marks = [t]
        await conn.copy_records_to_table("opportunity", records=opps, columns=[
            "id", "org_id", "name", "owner_id", "team_id", "pipeline_id", "stage_id", "stage_entered_at", "status",
            "amount", "currency", "expected_close_date", "source", "lost_reason_id", "closed_at", "version",
            "created_at", "updated_at"])
        marks.append(time.perf_counter())
        await conn.copy_records_to_table("stage_interval", records=intervals, columns=[
            "id", "org_id", "opportunity_id", "pipeline_id", "stage_id", "owner_id", "team_id", "entered_at",
            "exited_at", "exit_kind"])
        marks.append(time.perf_counter())
        await conn.copy_records_to_table("stage_transition", records=transitions, columns=[
            "id", "org_id", "opportunity_id", "kind", "from_stage_id", "to_stage_id", "from_pipeline_id",
            "to_pipeline_id", "actor_id", "occurred_at", "lost_reason_id", "amount"])
        marks.append(time.perf_counter())
        copy_s += time.perf_counter() - t
        split = " ".join(f"{b - a:.1f}" for a, b in zip(marks, marks[1:]))
        totals["opportunity"] += len(opps)
        totals["stage_interval"] += len(intervals)
        totals["stage_transition"] += len(transitions)
        print(f"  {totals['opportunity']:>9,} deals  {totals['stage_transition']:>10,} transitions  "
              f"COPY+triggers {copy_s:7.1f} s (last chunk opp/interval/transition: {split} s)", flush=True)
    t = time.perf_counter()
    for fk in fks:
        await conn.execute(f'ALTER TABLE "{fk["tbl"]}" ADD CONSTRAINT "{fk["conname"]}" {fk["def"]}')
    fk_s = time.perf_counter() - t
    t = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    vacuum_s = time.perf_counter() - t
    counts = {name: await conn.fetchval(f"SELECT count(*) FROM {name}")
              for name in ("opportunity", "stage_interval", "stage_transition", "stage_summary", "stage_rollup")}
    await conn.close()
    print(f"org {org} pipeline {pipeline} admin {admin_id}")
    print(f"rows: {counts}")
    print(f"setup {setup_s:.1f} s, COPY (with the analytics triggers) {copy_s:.1f} s, foreign keys {fk_s:.1f} s, VACUUM ANALYZE {vacuum_s:.1f} s, "
          f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_bench_analytics")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
