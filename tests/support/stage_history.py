"""Build pipelines and deal histories by hand, with explicit times, the way the pipelines
service writes them: each move closes the open stage_interval (exit_kind), opens the next,
appends a stage_transition and updates the opportunity, in one flush.

Analytics tests use it to set up histories whose every figure is worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import new_id
from app.pipelines.models import (
    ExitKind,
    LostReason,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageInterval,
    StageKind,
    StageTransition,
    TransitionKind,
)
from tests.support.factories import Actor, Tenant

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # a Monday


def at(days: float = 0, hours: float = 0) -> dt.datetime:
    """A moment `days` (and `hours`) after T0."""
    return T0 + dt.timedelta(days=days, hours=hours)


@dataclass
class Deal:
    opportunity: Opportunity
    owner: Actor

    @property
    def id(self) -> uuid.UUID:
        return self.opportunity.id


@dataclass
class PipelineHistory:
    session: AsyncSession
    tenant: Tenant
    pipeline: Pipeline
    stages: dict[str, Stage]
    reasons: dict[str, LostReason] = field(default_factory=dict)

    @classmethod
    async def create(
        cls,
        tenant: Tenant,
        *,
        name: str = "New business",
        open_stages: tuple[tuple[str, str], ...] = (
            ("Prospect", "0.1"), ("Qualify", "0.25"), ("Proposal", "0.5"), ("Negotiation", "0.8"),
        ),
        lost_reasons: tuple[str, ...] = ("Price", "Competitor"),
    ) -> PipelineHistory:
        session = tenant.session
        pipeline = Pipeline(org_id=tenant.id, name=name, is_default=False)
        session.add(pipeline)
        await session.flush()
        stages: dict[str, Stage] = {}
        specs = [(n, p, StageKind.open) for n, p in open_stages] + [("Won", "1", StageKind.won), ("Lost", "0", StageKind.lost)]
        for position, (stage_name, probability, kind) in enumerate(specs, start=1):
            stage = Stage(org_id=tenant.id, pipeline_id=pipeline.id, name=stage_name, position=position * 10,
                          kind=kind, probability=Decimal(probability))
            session.add(stage)
            stages[stage_name] = stage
        history = cls(session=session, tenant=tenant, pipeline=pipeline, stages=stages)
        for reason in lost_reasons:
            lr = LostReason(org_id=tenant.id, name=reason)
            session.add(lr)
            history.reasons[reason] = lr
        await session.flush()
        return history

    def stage(self, name: str) -> Stage:
        return self.stages[name]

    async def open_deal(
        self,
        owner: Actor,
        *,
        when: dt.datetime,
        stage: str = "Prospect",
        amount: str | None = "1000.00",
        currency: str = "CNY",
        source: str | None = "web",
        expected_close: dt.date | None = None,
        name: str = "Deal",
    ) -> Deal:
        st = self.stages[stage]
        opp = Opportunity(
            org_id=self.tenant.id, name=name, owner_id=owner.id, team_id=owner.user.team_id,
            pipeline_id=self.pipeline.id, stage_id=st.id, stage_entered_at=when, status=OpportunityStatus.open,
            amount=Decimal(amount) if amount is not None else None, currency=currency,
            expected_close_date=expected_close, source=source, created_at=when, updated_at=when,
        )
        self.session.add(opp)
        await self.session.flush()
        self.session.add(StageInterval(
            org_id=self.tenant.id, opportunity_id=opp.id, pipeline_id=self.pipeline.id, stage_id=st.id,
            owner_id=owner.id, team_id=owner.user.team_id, entered_at=when, exit_kind=ExitKind.still_open,
        ))
        self.session.add(StageTransition(
            org_id=self.tenant.id, opportunity_id=opp.id, kind=TransitionKind.created, to_stage_id=st.id,
            to_pipeline_id=self.pipeline.id, actor_id=owner.id, occurred_at=when,
        ))
        await self.session.flush()
        return Deal(opportunity=opp, owner=owner)

    async def move(self, deal: Deal, stage: str, *, when: dt.datetime, lost_reason: str | None = None,
                   reopen: bool = False) -> None:
        """Move the deal to `stage`; the kind (advanced, regressed, won, lost, reopened)
        follows from the stages, as the pipelines service decides it."""
        opp = deal.opportunity
        current = next(s for s in self.stages.values() if s.id == opp.stage_id)
        target = self.stages[stage]
        if current.kind is not StageKind.open:
            kind, exit_kind = TransitionKind.reopened, ExitKind.reopened
        elif target.kind is StageKind.won:
            kind, exit_kind = TransitionKind.won, ExitKind.won
        elif target.kind is StageKind.lost:
            kind, exit_kind = TransitionKind.lost, ExitKind.lost
        elif target.position > current.position:
            kind, exit_kind = TransitionKind.advanced, ExitKind.advanced
        else:
            kind, exit_kind = TransitionKind.regressed, ExitKind.regressed
        assert not reopen or kind is TransitionKind.reopened
        await self.session.execute(
            update(StageInterval)
            .where(StageInterval.opportunity_id == opp.id, StageInterval.exited_at.is_(None))
            .values(exited_at=when, exit_kind=exit_kind)
        )
        owner = deal.owner
        self.session.add(StageInterval(
            org_id=self.tenant.id, opportunity_id=opp.id, pipeline_id=self.pipeline.id, stage_id=target.id,
            owner_id=owner.id, team_id=owner.user.team_id, entered_at=when, exit_kind=ExitKind.still_open,
        ))
        reason = self.reasons[lost_reason] if lost_reason else None
        self.session.add(StageTransition(
            org_id=self.tenant.id, opportunity_id=opp.id, kind=kind, from_stage_id=current.id, to_stage_id=target.id,
            from_pipeline_id=self.pipeline.id, to_pipeline_id=self.pipeline.id, actor_id=owner.id, occurred_at=when,
            lost_reason_id=reason.id if reason else None, amount=opp.amount,
        ))
        status = {StageKind.won: OpportunityStatus.won, StageKind.lost: OpportunityStatus.lost}.get(
            target.kind, OpportunityStatus.open)
        await self.session.flush()
        await self.session.execute(
            update(Opportunity).where(Opportunity.id == opp.id).values(
                stage_id=target.id, stage_entered_at=when, status=status,
                closed_at=when if status is not OpportunityStatus.open else None,
                lost_reason_id=reason.id if reason else None, version=Opportunity.version + 1,
            )
        )
        await self.session.refresh(opp)

    async def path(self, deal: Deal, *steps: tuple[str, float]) -> None:
        """Several moves: (stage name, days after T0) each."""
        for stage, days in steps:
            await self.move(deal, stage, when=at(days), lost_reason="Price" if stage == "Lost" else None)

    async def replay(self, owner: Actor, deals: list[tuple[str, float, list[tuple[str, float]]]]) -> list[Deal]:
        """Random histories from property tests: per deal (first stage, days after T0 it
        opens, [(next stage, days later)...]); a move to the stage it is in is skipped."""
        made = []
        for start, offset, moves in deals:
            deal = await self.open_deal(owner, when=at(offset), stage=start)
            made.append(deal)
            t = offset
            for target, gap in moves:
                t += gap
                if self.stage(target).id != deal.opportunity.stage_id:
                    await self.move(deal, target, when=at(t), lost_reason="Price" if target == "Lost" else None)
        return made

    async def reassign(self, deal: Deal, owner: Actor) -> None:
        """A new owner from now on (later visits are credited to them)."""
        deal.owner = owner
        await self.session.execute(update(Opportunity).where(Opportunity.id == deal.id).values(owner_id=owner.id))
        await self.session.refresh(deal.opportunity)


def new_uuid() -> uuid.UUID:
    return new_id()
