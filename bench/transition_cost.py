"""What the duration-histogram triggers (migration 0013) add to a stage transition, on the
analytics benchmark database (bench/analytics_load.py, 1M deals).

Each move is the pipelines service's own two statements (load the deal, then the one CTE
statement that updates it, closes and opens its stage intervals and appends the transition;
the same SQL bench/baseline_app.py runs), on an open deal, to its next open stage, in a
transaction that is rolled back, so the database is left as it was and every round moves
the same deals. Short rounds alternate the histogram triggers off (the baseline: everything
else, including the 0012 summary triggers, still runs) and on; medians per move. Wall time
on a shared machine is noisy, so the time spent inside the histogram trigger functions is
also read from PostgreSQL (track_functions, pg_stat_user_functions).

    .venv/bin/python -m bench.transition_cost [--moves 300] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
import uuid

import asyncpg

from bench.baseline_app import LOAD_PARAMS, LOAD_SQL, WRITE_PARAMS, WRITE_SQL

HISTOGRAM_TRIGGERS = {
    table: [f"analytics_histogram_{table}_{suffix}" for suffix in ("new_rows", "new_rows_old_rows", "old_rows")]
    for table in ("stage_interval", "stage_summary", "opportunity")
}


async def set_triggers(conn: asyncpg.Connection, enabled: bool) -> None:
    for table, names in HISTOGRAM_TRIGGERS.items():
        for name in names:
            await conn.execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {name}")


async def move(conn: asyncpg.Connection, org: uuid.UUID, actor: uuid.UUID, opp: uuid.UUID, to_stage: uuid.UUID) -> float:
    t = time.perf_counter()
    tr = conn.transaction()
    await tr.start()
    try:
        args = {"id": opp, "org_id": org, "to_stage_id": to_stage, "lost_reason_id": None}
        row = await conn.fetchrow(LOAD_SQL, *(args[n] for n in LOAD_PARAMS))
        now = dt.datetime.now(dt.UTC)
        params = {
            "opp_id": opp, "org_id": org, "version": row["version"], "to_stage_id": row["t_id"],
            "to_pipeline_id": row["t_pipeline_id"], "status": "open", "occurred_at": now, "closed_at": None,
            "lost_reason_id": None, "now": now, "exit_kind": "advanced", "interval_id": uuid.uuid4(),
            "transition_id": uuid.uuid4(), "kind": "advanced", "from_stage_id": row["stage_id"],
            "from_pipeline_id": row["pipeline_id"], "actor_id": actor, "reason": None, "note": None,
            "override": False, "event_id": uuid.uuid4(), "event_type": "opportunity.stage_changed", "payload": "{}",
            "audit_id": uuid.uuid4(), "actor_kind": "user", "changes": "{}", "request_id": None,
        }
        assert await conn.fetchrow(WRITE_SQL, *(params[n] for n in WRITE_PARAMS)) is not None
    finally:
        await tr.rollback()
    return (time.perf_counter() - t) * 1000


async def main(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(f"{args.server.rstrip('/')}/{args.database}")
    org, actor = await conn.fetchrow("SELECT org_id, id FROM \"user\" WHERE role = 'admin' LIMIT 1")
    # Open deals not in the last open stage, with the stage after theirs.
    deals = await conn.fetch(
        "SELECT o.id, (SELECT n.id FROM stage n WHERE n.pipeline_id = s.pipeline_id AND n.kind = 'open' "
        "AND n.position > s.position ORDER BY n.position LIMIT 1) AS next "
        "FROM opportunity o JOIN stage s ON s.id = o.stage_id "
        "WHERE o.status = 'open' ORDER BY md5(o.id::text) LIMIT $1", args.moves * 2)
    deals = [d for d in deals if d["next"] is not None][: args.moves]
    results: dict[bool, list[float]] = {False: [], True: []}
    await conn.execute("SET track_functions = 'pl'")
    trigger_ms = ("SELECT coalesce(sum(total_time) FILTER (WHERE funcname LIKE 'analytics_histogram_%'), 0), "
                  "coalesce(sum(total_time) FILTER (WHERE funcname IN ('analytics_interval_changed', "
                  "'analytics_opportunity_changed')), 0) FROM pg_stat_user_functions")
    inside, summary = 0.0, 0.0
    batch = max(1, len(deals) // args.rounds)
    try:
        for d in deals[:20]:  # warm-up
            await move(conn, org, actor, d["id"], d["next"])
        for r in range(args.rounds * 2):
            enabled = r % 2 == 1
            await set_triggers(conn, enabled)
            await conn.execute("SELECT pg_stat_force_next_flush()")
            before = await conn.fetchrow(trigger_ms)
            part = deals[(r // 2) * batch:(r // 2 + 1) * batch]
            results[enabled] += [await move(conn, org, actor, d["id"], d["next"]) for d in part]
            await conn.execute("SELECT pg_stat_force_next_flush()")
            await asyncio.sleep(0.05)
            after = await conn.fetchrow(trigger_ms)
            if enabled:
                inside += after[0] - before[0]
                summary += after[1] - before[1]
    finally:
        await set_triggers(conn, True)
        await conn.close()
    off, on = statistics.median(results[False]), statistics.median(results[True])
    load = os.getloadavg()
    print(f"{len(results[True])} moves each way in {args.rounds} interleaved rounds; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"move without histogram triggers {off:.2f} ms, with {on:.2f} ms (medians): +{on - off:.2f} ms ({on / off:.2f}x)")
    print(f"per move with the triggers on, inside the histogram trigger functions {inside / len(results[True]):.3f} ms; "
          f"inside the 0012 summary-refresh triggers (with the rollup triggers they fire) "
          f"{summary / len(results[True]):.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_bench_analytics")
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
