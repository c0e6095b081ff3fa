"""Exact duration statistics read through the trigger-maintained duration histogram
(migration 0013), for the unfiltered, ungrouped stage-duration report.

percentile_cont(q) over n sorted values interpolates between the values of 0-based ranks
floor(q * (n - 1)) and ceil(q * (n - 1)). The histogram gives, per (stage, bucket), how
many of the period's values fall in each log-duration bucket, and buckets sort like their
values; so summing the period's histogram rows locates each rank's bucket and its offset
in it, and only that bucket's values of the period are read (through an index keyed by the
same bucket) and sorted. Count and mean come from the histogram's counts and exact sums.
Deleted deals are in neither the histogram nor the values read (migration 0020).
Each figure is one statement, so it reads one snapshot; figures run concurrently on
separate connections when the caller gives an engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.analytics.schemas import DurationStats
from app.analytics.stats import QUANTILES

# {values}: the figure's values of one located bucket `s` (s.figure, s.part, s.bucket) in
# the period. {bucket}/{order}: the histogram's sort key (open ages sort by entry day,
# newest first). {period}: the histogram's day range. {mean}: from count and exact sum.
TEMPLATE = """
WITH hist AS (
  SELECT h.figure, h.stage_id AS part, {bucket} AS bucket, sum(h.n)::bigint AS n, sum(h.total) AS total
  FROM duration_histogram h
  WHERE h.org_id = :org AND h.pipeline_id = :pipeline AND h.figure IN ({figures}) {period}
  GROUP BY 1, 2, 3 HAVING sum(h.n) > 0
), cum AS (
  SELECT hist.*, sum(n) OVER (PARTITION BY figure, part ORDER BY bucket {order}) - n AS before,
         sum(n) OVER (PARTITION BY figure, part) AS cnt, sum(total) OVER (PARTITION BY figure, part) AS sum_total
  FROM hist
), cell AS (
  SELECT DISTINCT figure, part, cnt::bigint AS cnt, sum_total FROM cum
), need AS (
  -- The ranks percentile_cont reads, computed in float8 as PostgreSQL does.
  SELECT DISTINCT c.figure, c.part, r.rank
  FROM cell c CROSS JOIN unnest(CAST(:quantiles AS float8[])) AS q(q)
  CROSS JOIN LATERAL (VALUES (floor(q.q * (c.cnt - 1)::float8)::bigint),
                             (ceil(q.q * (c.cnt - 1)::float8)::bigint)) AS r(rank)
), loc AS (
  SELECT n.figure, n.part, n.rank, c.bucket, (n.rank - c.before)::bigint AS off
  FROM need n JOIN cum c ON c.figure = n.figure AND c.part IS NOT DISTINCT FROM n.part
   AND n.rank >= c.before AND n.rank < c.before + c.n
), span AS (
  SELECT figure, part, bucket, min(off) AS lo, max(off) AS hi FROM loc GROUP BY 1, 2, 3
), got AS (
  SELECT s.figure, s.part, s.bucket, s.lo,
         ARRAY({values} ORDER BY 1 OFFSET s.lo LIMIT s.hi - s.lo + 1) AS vals
  FROM span s
)
SELECT c.figure::text AS figure, c.part, c.cnt, {mean} AS mean, l.rank, g.vals[l.off - g.lo + 1] AS value
FROM cell c
JOIN loc l ON l.figure = c.figure AND l.part IS NOT DISTINCT FROM c.part
JOIN got g ON g.figure = l.figure AND g.part IS NOT DISTINCT FROM l.part AND g.bucket = l.bucket
"""

PERIOD = "AND h.day >= :from_date AND h.day <= :to_date"
BUCKET_MEAN = "c.sum_total / c.cnt"


@dataclass(frozen=True)
class Figure:
    sql: str
    needs_period: bool = True
    needs_now: bool = False


VISIT = Figure(TEMPLATE.format(figures="'visit'", bucket="h.bucket", order="", period=PERIOD, mean=BUCKET_MEAN, values="""
  SELECT extract(epoch FROM i.exited_at - i.entered_at)::float8 FROM stage_interval i
  WHERE i.org_id = :org AND i.pipeline_id = :pipeline AND i.stage_id = s.part AND i.exited_at IS NOT NULL
    AND analytics_span_bucket(i.entered_at, i.exited_at) = s.bucket
    AND i.entered_at >= :start AND i.entered_at < :end
    AND NOT EXISTS (SELECT 1 FROM opportunity d WHERE d.id = i.opportunity_id AND d.deleted_at IS NOT NULL)"""))

DEAL = Figure(TEMPLATE.format(figures="'deal'", bucket="h.bucket", order="", period=PERIOD, mean=BUCKET_MEAN, values="""
  SELECT x.completed_seconds FROM stage_summary x
  WHERE x.org_id = :org AND x.pipeline_id = :pipeline AND x.stage_id = s.part
    AND x.first_entered_at IS NOT NULL AND x.completed_visits = x.visits
    AND analytics_duration_bucket(x.completed_seconds) = s.bucket
    AND x.first_entered_at >= :start AND x.first_entered_at < :end"""))

CYCLE = Figure(TEMPLATE.format(figures="'won', 'lost'", bucket="h.bucket", order="", period=PERIOD, mean=BUCKET_MEAN, values="""
  SELECT extract(epoch FROM o.closed_at - o.created_at)::float8 FROM opportunity o
  WHERE o.org_id = :org AND o.pipeline_id = :pipeline AND o.closed_at IS NOT NULL AND o.status IN ('won', 'lost')
    AND o.status = s.figure::text::opportunity_status AND o.deleted_at IS NULL
    AND analytics_span_bucket(o.created_at, o.closed_at) = s.bucket
    AND o.closed_at >= :start AND o.closed_at < :end"""))

# Open visits, whatever the period: the newest entry day holds the youngest ages.
OPEN = Figure(TEMPLATE.format(
    figures="'open'", bucket="h.day", order="DESC", period="",
    mean="(c.cnt * extract(epoch FROM CAST(:now AS timestamptz)) - c.sum_total) / c.cnt", values="""
  SELECT extract(epoch FROM CAST(:now AS timestamptz) - x.open_entered_at)::float8 FROM stage_summary x
  WHERE x.org_id = :org AND x.pipeline_id = :pipeline AND x.stage_id = s.part AND x.open_entered_at IS NOT NULL
    AND x.open_entered_at >= s.bucket::timestamp AT TIME ZONE 'UTC'
    AND x.open_entered_at < (s.bucket + 1)::timestamp AT TIME ZONE 'UTC'"""), needs_period=False, needs_now=True)

ALL = (VISIT, DEAL, OPEN, CYCLE)

# (figure, stage id or None) -> statistics
Stats = dict[tuple[str, uuid.UUID | None], DurationStats]


def _params(fig: Figure, org: uuid.UUID, pipeline_id: uuid.UUID, window: Any, now: dt.datetime) -> dict[str, Any]:
    params: dict[str, Any] = {"org": org, "pipeline": pipeline_id, "quantiles": list(QUANTILES)}
    if fig.needs_period:
        params.update(from_date=window.from_date, to_date=window.to_date, start=window.start, end=window.end)
    if fig.needs_now:
        params["now"] = now
    return params


def _stats(rows: list[Any]) -> Stats:
    cells: dict[tuple[str, uuid.UUID | None], dict[int, float]] = defaultdict(dict)
    heads: dict[tuple[str, uuid.UUID | None], Any] = {}
    for r in rows:
        cells[(r.figure, r.part)][r.rank] = r.value
        heads[(r.figure, r.part)] = r
    out: Stats = {}
    for key, values in cells.items():
        n = heads[key].cnt
        qs = []
        for q in QUANTILES:
            # percentile_cont's arithmetic, in the same float8 operations.
            h = q * float(n - 1)
            lo, hi = math.floor(h), math.ceil(h)
            qs.append(values[lo] if lo == hi else values[lo] + (h - lo) * (values[hi] - values[lo]))
        out[key] = DurationStats(count=n, mean_seconds=float(heads[key].mean), p50_seconds=qs[0],
                                 p75_seconds=qs[1], p90_seconds=qs[2])
    return out


async def durations(
    session: AsyncSession, engine: AsyncEngine | None, *, org: uuid.UUID, pipeline_id: uuid.UUID, window: Any,
    now: dt.datetime,
) -> Stats:
    """Every figure of the report. With an engine, each figure on its own connection at
    once (they are independent statements); without, one after another on `session`."""
    if engine is None:
        rows = [r for fig in ALL for r in await session.execute(text(fig.sql), _params(fig, org, pipeline_id, window, now))]
        return _stats(rows)

    async def one(fig: Figure) -> list[Any]:
        async with engine.connect() as conn:
            await conn.execute(text("SET LOCAL jit = off"))
            await conn.execute(text("SET LOCAL work_mem = '64MB'"))
            result = list(await conn.execute(text(fig.sql), _params(fig, org, pipeline_id, window, now)))
            await conn.rollback()
            return result

    parts = await asyncio.gather(*(one(fig) for fig in ALL))
    return _stats([r for part in parts for r in part])
