"""What every analytics query shares: the period, the visibility filter, the grouping and
time-bucket expressions, and the per-query database settings."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, String, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.analytics.schemas import GroupBy, Interval, Period
from app.core.errors import NotFound, Unprocessable
from app.identity.principal import Principal, visible_owner_clause
from app.pipelines.models import Pipeline, Stage, StageKind

MAX_PERIOD_DAYS = 3660
DEFAULT_PERIOD_DAYS = 90


class InvalidPeriod(Unprocessable):
    code, title = "invalid-period", "Invalid period"


class InvalidGrouping(Unprocessable):
    code, title = "invalid-grouping", "This figure cannot be grouped that way"


@dataclass(frozen=True)
class Window:
    """A period of whole UTC days, `from` and `to` both included."""

    from_date: dt.date
    to_date: dt.date

    @classmethod
    def of(cls, from_date: dt.date | None, to_date: dt.date | None) -> Window:
        today = dt.datetime.now(dt.UTC).date()
        to_date = to_date or (from_date + dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1) if from_date else today)
        from_date = from_date or to_date - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if from_date > to_date:
            raise InvalidPeriod("`from` must be on or before `to`")
        if (to_date - from_date).days >= MAX_PERIOD_DAYS:
            raise InvalidPeriod(f"A period spans at most {MAX_PERIOD_DAYS} days")
        return cls(from_date, to_date)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.from_date, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: midnight after `to`."""
        return dt.datetime.combine(self.to_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def period(self) -> Period:
        return Period(from_date=self.from_date, to_date=self.to_date)


def visible(principal: Principal, owner_col: ColumnElement[Any]) -> ColumnElement[bool]:
    principal.require("analytics", "read")
    return visible_owner_clause(principal, owner_col)


def group_expr(group_by: GroupBy | None, columns: dict[GroupBy, ColumnElement[Any]]) -> ColumnElement[Any] | None:
    """The grouping column as text (ids as their string form), or None when not grouped."""
    if group_by is None:
        return None
    if group_by not in columns:
        raise InvalidGrouping(f"Group by one of: {', '.join(sorted(g.value for g in columns))}")
    col = columns[group_by]
    return col if group_by is GroupBy.source else cast(col, String)


def bucket_expr(interval: Interval | None, col: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """Start of the ISO week (Monday) or month containing `col`, as a date (UTC)."""
    if interval is None:
        return None
    return cast(func.date_trunc(interval.value, col), Date)


def utc(col: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.timezone("UTC", col)


async def tune(session: AsyncSession) -> None:
    """Analytics statements scan and sort more than OLTP ones: give the sorts memory and
    skip JIT compilation (it costs more than it saves at these sizes)."""
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def pipeline_stages(session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID) -> list[Stage]:
    """The pipeline's open stages in order; 404 for a pipeline of another organisation."""
    principal.require("analytics", "read")
    found = await session.scalar(
        select(Pipeline.id).where(Pipeline.id == pipeline_id, Pipeline.org_id == principal.org_id)
    )
    if found is None:
        raise NotFound("No pipeline with that id")
    rows = await session.scalars(
        select(Stage).where(Stage.org_id == principal.org_id, Stage.pipeline_id == pipeline_id, Stage.kind == StageKind.open)
        .order_by(Stage.position, Stage.id)
    )
    return list(rows)


async def require_pipeline(session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID | None) -> None:
    if pipeline_id is not None:
        await pipeline_stages(session, principal, pipeline_id)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
