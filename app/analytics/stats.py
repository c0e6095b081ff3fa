"""Duration statistics computed in SQL: count, mean and exact p50/p75/p90 of a value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, Double, func, literal
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.sql.elements import ColumnElement

from app.analytics.schemas import DurationStats

QUANTILES = (0.5, 0.75, 0.9)


def stats_columns(value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    quantiles = func.percentile_cont(pg_array([literal(q) for q in QUANTILES])).within_group(value)
    quantiles.type = ARRAY(Double())
    return [func.count().label("n"), func.avg(value).label("mean"), quantiles.label("q")]


def to_stats(row: Any | None) -> DurationStats:
    if row is None or not row.n:
        return DurationStats(count=0, mean_seconds=None, p50_seconds=None, p75_seconds=None, p90_seconds=None)
    q = row.q or [None, None, None]
    return DurationStats(count=int(row.n), mean_seconds=float(row.mean), p50_seconds=q[0], p75_seconds=q[1], p90_seconds=q[2])
