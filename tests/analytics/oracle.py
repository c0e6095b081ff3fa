"""An independent oracle for the stage summary: the definitions of docs/metrics.md applied
in plain Python to the raw stage_interval rows of the deals not deleted. Tests compare the trigger-maintained
stage_summary with it (this is test code: production figures are computed in SQL)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.pipelines.models import Opportunity, Stage, StageInterval, StageKind

INF = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Expected:
    reached_at: dt.datetime
    outcome: str
    strict_entered_at: dt.datetime | None
    strict_outcome: str | None
    first_entered_at: dt.datetime | None
    visits: int
    completed_visits: int
    completed_seconds: float
    open_entered_at: dt.datetime | None


async def expected_summary(session: AsyncSession, org_id: uuid.UUID) -> dict[tuple[uuid.UUID, uuid.UUID], Expected]:
    stages = {s.id: s for s in await session.scalars(select(Stage).where(Stage.org_id == org_id))}
    # populate_existing: a deal deleted through the API since it was loaded is read afresh.
    opps = {o.id: o for o in await session.scalars(
        select(Opportunity).where(Opportunity.org_id == org_id).execution_options(populate_existing=True))}
    intervals = list(await session.scalars(select(StageInterval).where(StageInterval.org_id == org_id)))
    out: dict[tuple[uuid.UUID, uuid.UUID], Expected] = {}
    by_opp_pipeline: dict[tuple[uuid.UUID, uuid.UUID], list[StageInterval]] = {}
    for i in intervals:
        by_opp_pipeline.setdefault((i.opportunity_id, i.pipeline_id), []).append(i)

    def rank(stage: Stage) -> float | None:
        if stage.kind is StageKind.won:
            return float("inf")
        return float(stage.position) if stage.kind is StageKind.open else None

    for (opp_id, pipeline_id), visits in by_opp_pipeline.items():
        opp = opps[opp_id]
        if opp.deleted_at is not None:
            continue  # a deleted deal counts in no figure
        open_stages = sorted((s for s in stages.values() if s.pipeline_id == pipeline_id and s.kind is StageKind.open),
                             key=lambda s: s.position)
        for s in open_stages:
            later_or_same = [v.entered_at for v in visits if (r := rank(stages[v.stage_id])) is not None and r >= s.position]
            if not later_or_same:
                continue
            reached_at = min(later_or_same)
            later = [v.entered_at for v in visits if (r := rank(stages[v.stage_id])) is not None and r > s.position]
            own = [v for v in visits if v.stage_id == s.id]
            first = min((v.entered_at for v in own), default=None)

            def fallback() -> str:
                if opp.pipeline_id != pipeline_id:
                    return "moved"
                return {"lost": "lost", "won": "advanced"}.get(opp.status.value, "open")

            outcome = "advanced" if later else fallback()
            strict_at = None
            if first is not None:
                earlier = [e for e in open_stages if e.position < s.position]
                firsts = [min((v.entered_at for v in visits if v.stage_id == e.id), default=INF) for e in earlier]
                if all(f < first for f in firsts):
                    strict_at = first
            strict_outcome = None
            if strict_at is not None:
                strict_outcome = "advanced" if any(t > first for t in later) else fallback()
            done = [v for v in own if v.exited_at is not None]
            open_visit = [v.entered_at for v in own if v.exited_at is None]
            out[(opp_id, s.id)] = Expected(
                reached_at=reached_at, outcome=outcome, strict_entered_at=strict_at, strict_outcome=strict_outcome,
                first_entered_at=first, visits=len(own), completed_visits=len(done),
                completed_seconds=sum((v.exited_at - v.entered_at).total_seconds() for v in done),
                open_entered_at=max(open_visit) if open_visit else None,
            )
    return out
