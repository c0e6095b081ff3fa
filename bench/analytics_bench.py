"""Time the stage-conversion and stage-duration endpoints over HTTP against
(a) the floor: one hand-written SQL query over the raw tables, run by psql (bench/sql/), and
(b) the Python path: the raw rows loaded into Python and the figures computed there.

Needs the database made by bench/analytics_load.py. Starts `crm serve` on it.

    .venv/bin/python bench/analytics_bench.py [--server postgresql://postgres@127.0.0.1:5432] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import asyncpg
import httpx

from app.core.config import Settings
from app.identity.models import Role
from app.identity.tokens import TokenCodec

ROOT = Path(__file__).resolve().parents[1]
JWT_KEYS = {"bench": "analytics-bench-signing-key-0123456789abcdef"}
LAST_DAY = dt.date(2026, 11, 22)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql_ms(url: str, sql_file: Path, variables: dict[str, str]) -> float:
    args = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "\\timing on"]
    for k, v in variables.items():
        args += ["-v", f"{k}={v}"]
    out = subprocess.run(args + ["-f", str(sql_file)], capture_output=True, text=True, check=True).stdout
    return float(re.findall(r"Time: ([0-9.]+) ms", out)[-1])


def quantiles(values: list[float]) -> tuple[int, float | None, list[float | None]]:
    if not values:
        return 0, None, [None, None, None]
    v = sorted(values)

    def cont(q: float) -> float:
        pos = q * (len(v) - 1)
        lo = int(pos)
        return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (pos - lo)

    return len(v), sum(v) / len(v), [cont(0.5), cont(0.75), cont(0.9)]


async def python_conversion(conn: asyncpg.Connection, org, pipeline, start, end) -> dict:  # type: ignore[no-untyped-def]
    rows = await conn.fetch(
        "SELECT i.opportunity_id, s.kind::text, s.position, i.entered_at, o.status::text FROM stage_interval i "
        "JOIN stage s ON s.id = i.stage_id JOIN opportunity o ON o.id = i.opportunity_id "
        "WHERE i.org_id = $1 AND i.pipeline_id = $2", org, pipeline)
    stages = await conn.fetch("SELECT id, position FROM stage WHERE pipeline_id = $1 AND kind = 'open' ORDER BY position", pipeline)
    firsts: dict = defaultdict(dict)
    status = {}
    for opp, kind, pos, entered, st in rows:
        if kind == "lost":
            continue
        rnk = 2**31 - 1 if kind == "won" else pos
        cur = firsts[opp].get(rnk)
        if cur is None or entered < cur:
            firsts[opp][rnk] = entered
        status[opp] = st
    out = {}
    for sid, spos in stages:
        c = [0, 0, 0, 0]
        for opp, per in firsts.items():
            reach = [t for r, t in per.items() if r >= spos]
            if not reach or not (start <= min(reach) < end):
                continue
            c[0] += 1
            if any(r > spos for r in per) or status[opp] == "won":
                c[1] += 1
            elif status[opp] == "lost":
                c[2] += 1
            else:
                c[3] += 1
        out[sid] = c
    return out


async def python_duration(conn: asyncpg.Connection, org, pipeline, start, end) -> dict:  # type: ignore[no-untyped-def]
    visits = await conn.fetch(
        "SELECT i.opportunity_id, i.stage_id, i.entered_at, i.exited_at FROM stage_interval i JOIN stage s ON s.id = i.stage_id "
        "WHERE i.org_id = $1 AND i.pipeline_id = $2 AND s.kind = 'open'", org, pipeline)
    closed = await conn.fetch(
        "SELECT status::text, created_at, closed_at FROM opportunity WHERE org_id = $1 AND pipeline_id = $2 "
        "AND closed_at >= $3 AND closed_at < $4 AND status IN ('won', 'lost')", org, pipeline, start, end)
    now = dt.datetime.now(dt.UTC)
    per_visit, age = defaultdict(list), defaultdict(list)
    deals: dict = defaultdict(lambda: [None, 0.0, True])
    for opp, stage, entered, exited in visits:
        d = deals[(opp, stage)]
        d[0] = entered if d[0] is None or entered < d[0] else d[0]
        if exited is None:
            d[2] = False
            age[stage].append((now - entered).total_seconds())
        else:
            d[1] += (exited - entered).total_seconds()
            if start <= entered < end:
                per_visit[stage].append((exited - entered).total_seconds())
    per_deal = defaultdict(list)
    for (opp, stage), (first, secs, done) in deals.items():
        if done and start <= first < end:
            per_deal[stage].append(secs)
    cycles = defaultdict(list)
    for st, created, closed_at in closed:
        cycles[st].append((closed_at - created).total_seconds())
    return {name: {k: quantiles(v) for k, v in part.items()}
            for name, part in (("visit", per_visit), ("deal", per_deal), ("age", age), ("cycle", cycles))}


async def main(args: argparse.Namespace) -> None:
    url = f"{args.server.rstrip('/')}/{args.database}"
    conn = await asyncpg.connect(url)
    org, pipeline, admin = await conn.fetchrow(
        "SELECT o.id, p.id, u.id FROM org o JOIN pipeline p ON p.org_id = o.id JOIN \"user\" u ON u.org_id = o.id "
        "AND u.role = 'admin' LIMIT 1")
    sizes = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("opportunity", "stage_interval", "stage_transition")}
    token, _ = TokenCodec(Settings(jwt_keys=JWT_KEYS)).issue_access_token(user_id=admin, org_id=org, role=Role.admin, team_id=None)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(DATABASE_URL=url, CRM_JWT_KEYS=json.dumps(JWT_KEYS), CRM_LOG_LEVEL="WARNING",
               CRM_RUN_MIGRATIONS_ON_START="false", CRM_DATA_DIR="/tmp/crm-bench-analytics")
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            for _ in range(100):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            for days in args.periods:
                first = LAST_DAY - dt.timedelta(days=days - 1)
                start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
                end = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
                params = {"pipeline_id": str(pipeline), "from": first.isoformat(), "to": LAST_DAY.isoformat()}
                variables = {"org": str(org), "pipeline": str(pipeline), "start": start.isoformat(), "end": end.isoformat()}
                for name, path, sql, py in (
                    ("stage-conversion", "/v1/analytics/stage-conversion", "floor_conversion.sql", python_conversion),
                    ("stage-duration", "/v1/analytics/stage-duration", "floor_duration.sql", python_duration),
                ):
                    assert (await client.get(path, params=params)).status_code == 200  # warm-up
                    http_ms = []
                    for _ in range(args.runs):
                        t = time.perf_counter()
                        res = await client.get(path, params=params)
                        http_ms.append((time.perf_counter() - t) * 1000)
                        assert res.status_code == 200, res.text
                    floor_ms = [psql_ms(url, ROOT / "bench" / "sql" / sql, variables) for _ in range(args.floor_runs)]
                    py_ms = None
                    if days in args.python_periods:
                        t = time.perf_counter()
                        await py(conn, org, pipeline, start, end)
                        py_ms = (time.perf_counter() - t) * 1000
                    row = {"figure": name, "period_days": days, "http_ms": statistics.median(http_ms),
                           "floor_ms": statistics.median(floor_ms), "python_ms": py_ms,
                           "http_runs": [round(x) for x in http_ms], "floor_runs": [round(x) for x in floor_ms]}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(30)
        await conn.close()
    load = os.getloadavg()
    print(f"\nrows: {sizes}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores\n")
    print("| figure | period | endpoint (HTTP, median) | floor (psql, median) | endpoint / floor | Python path | Python / endpoint |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['figure']} | {r['period_days']} days | {r['http_ms']:.0f} ms | {r['floor_ms']:.0f} ms | "
              f"{r['http_ms'] / r['floor_ms']:.2f}x | "
              + (f"{r['python_ms'] / 1000:.1f} s | {r['python_ms'] / r['http_ms']:.0f}x |" if r["python_ms"] else "not run | |"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_bench_analytics")
    parser.add_argument("--periods", type=int, nargs="+", default=[90, 365])
    parser.add_argument("--python-periods", type=int, nargs="*", default=[90, 365],
                        help="Periods for which to time the (slow) Python path")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--floor-runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
