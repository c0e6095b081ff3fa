"""At benchmark scale, the stage-duration histogram path gives the same figures as the
sorted path (every value of the period through percentile_cont): counts and percentiles
equal to the bit, means within 1e-12 relative. Read-only, on the database made by
bench/analytics_load.py.

    .venv/bin/python bench/duration_check.py [--periods 90 365]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import time

from sqlalchemy import func, select, text

from app.analytics import histogram
from app.analytics.scope import Window
from app.analytics.stages import sorted_durations
from app.core.config import Settings
from app.core.db import Database
from app.identity.models import Role
from app.identity.principal import Principal

LAST_DAY = dt.date(2026, 11, 22)


async def main(args: argparse.Namespace) -> None:
    db = Database(f"{args.server.rstrip('/')}/{args.database}", Settings())
    async with db.sessionmaker() as session:
        org, pipeline = (await session.execute(text("SELECT org_id, id FROM pipeline LIMIT 1"))).one()
        principal = Principal(org_id=org, role=Role.admin)
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        now = await session.scalar(select(func.now()))
        for days in args.periods:
            window = Window(LAST_DAY - dt.timedelta(days=days - 1), LAST_DAY)
            t = time.perf_counter()
            fast = await histogram.durations(session, db.engine, org=org, pipeline_id=pipeline, window=window, now=now)
            fast_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            deal, visit, age, cycle = await sorted_durations(
                session, principal, pipeline_id=pipeline, window=window, group_by=None, interval=None, now=now)
            slow_ms = (time.perf_counter() - t) * 1000
            slow = {("deal", p): v for (_, p), v in deal.items()} | {("visit", p): v for (_, p), v in visit.items()}
            slow |= {("open", p): v for (_, p), v in age.items()} | {(f, None): v for (_, f), v in cycle.items()}
            assert set(fast) == set(slow), (set(fast) ^ set(slow))
            values = 0
            for key, f in fast.items():
                s = slow[key]
                assert (f.count, f.p50_seconds, f.p75_seconds, f.p90_seconds) == (
                    s.count, s.p50_seconds, s.p75_seconds, s.p90_seconds), (key, f, s)
                assert math.isclose(f.mean_seconds, s.mean_seconds, rel_tol=1e-12), (key, f, s)
                values += f.count
            print(f"{days} days: {len(fast)} figures over {values:,} values identical; "
                  f"histogram path {fast_ms:.0f} ms, sorted path {slow_ms:.0f} ms (in-process, no HTTP)")
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_bench_analytics")
    parser.add_argument("--periods", type=int, nargs="+", default=[90, 365])
    asyncio.run(main(parser.parse_args()))
