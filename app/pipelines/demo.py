"""Demo deals for `crm seed-demo`: a year of opportunities flowing through the default
pipeline, simulated so every analytics view has something to show.

- Deals arrive through the year (busier in spring and autumn) from several sources, each
  at an account its owner owns (accounts have a share of their owner's business and a
  period in which they buy: long-standing customers, lapsed ones, new prospects).
- A share of the deals comes from leads: `plan_pipeline_demo` marks them, the leads demo
  converts a lead into each through the real conversion service (back-dated to the deal's
  creation), and `write_pipeline_demo` writes the simulated history onto the deal the
  conversion created.
- Each stage has a base chance to advance, a typical duration and the lost reasons that
  kill deals there; each rep has strengths and weaknesses per stage (Chen Jing qualifies
  needs well, Wang Fang closes, Liu Yang opens doors but struggles to close, Zhao Lei is
  steady but slow), so "who does a stage well" has an answer.
- A few deals slip back a stage (with a reason), some are still open (a few stalled).

Rows are generated in Python from a seeded RNG and written with multi-row statements
(`app/core/bulk.py`), so the analytics triggers run a few times rather than once per row.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.bulk import insert_rows, update_rows
from app.core.ids import new_id
from app.identity.models import User
from app.pipelines.models import (
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageInterval,
    StageTransition,
)
from app.pipelines.pipeline_service import create_default_pipeline

SEED = 20261123
DEALS = 640

# Per open stage (in order): chance to advance, median days in stage, lost reasons that
# end deals there (weights).
STAGE_MODEL: list[tuple[float, float, dict[str, int]]] = [
    (0.82, 4, {"No response from the customer": 5, "No budget": 2, "Product does not fit": 2}),
    (0.80, 6, {"No response from the customer": 3, "No budget": 3, "Product does not fit": 2}),
    (0.76, 10, {"Product does not fit": 3, "No budget": 3, "Chose to build in-house": 2}),
    (0.74, 14, {"Lost to a competitor": 3, "Chose to build in-house": 2, "Project cancelled or postponed": 2}),
    (0.70, 9, {"Price too high": 5, "Lost to a competitor": 4}),
    (0.76, 12, {"Price too high": 3, "Lost to a competitor": 3, "Project cancelled or postponed": 2}),
]
# rep key -> (per-stage multiplier on the advance chance, speed factor on durations)
REP_SKILL: dict[str, tuple[list[float], float]] = {
    "rep.chen": ([1.00, 1.02, 1.18, 1.15, 0.98, 0.95], 0.9),
    "rep.liu": ([1.15, 1.15, 1.00, 0.95, 0.90, 0.80], 0.8),
    "rep.wang": ([0.95, 0.98, 1.00, 1.02, 1.10, 1.22], 1.0),
    "rep.zhao": ([1.00, 1.00, 1.00, 1.00, 1.00, 1.00], 1.45),
}
# The lead sources' vocabulary, so deals and the leads they came from group alike.
SOURCES = {"web_form": 5, "referral": 3, "event": 3, "visit": 2, "other": 2, "hotline": 2, "social": 2}
# Chance that a deal from this source began as a lead (converted through the leads domain).
FROM_LEAD = {"web_form": 0.15, "event": 0.12, "social": 0.12, "hotline": 0.08, "referral": 0.04}
PROJECTS = ["ERP upgrade 升级", "CRM rollout 实施", "仓储自动化 warehouse automation", "数据平台 data platform",
            "年度维保 annual maintenance", "安全改造 safety retrofit", "产线扩建 line expansion",
            "云迁移 cloud migration", "培训服务 training", "设备采购 equipment purchase"]
NOTES = ["客户确认了需求清单 / needs confirmed", "Site visit done, pain points documented",
         "技术交流会已完成", "Decision maker met; budget confirmed", "方案评审通过 / design reviewed"]
REGRESS_REASONS = ["Customer reopened requirements 需求变更", "Champion left the company 对接人离职",
                   "Budget cycle moved 预算调整"]




@dataclass(frozen=True)
class DealAccount:
    """An account deals can be made with: its owner makes them, in its buying period."""

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    weight: float  # share of its owner's deals while buying
    buys_from: float = 0  # days into the simulated year
    buys_until: float = 366


@dataclass(frozen=True)
class DemoDeal:
    """What the leads demo needs to convert a lead into a planned deal."""

    id: uuid.UUID
    owner_id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    name: str
    amount: Decimal | None
    source: str
    created: dt.datetime
    expected_close_date: dt.date


@dataclass
class _Deal:
    id: uuid.UUID
    owner: uuid.UUID
    team: uuid.UUID | None
    account: DealAccount
    created: dt.datetime
    name: str
    amount: Decimal | None
    source: str
    from_lead: bool = False
    row: dict[str, Any] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    intervals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DemoPlan:
    pipeline_id: uuid.UUID
    deals: list[_Deal]

    def from_leads(self) -> list[DemoDeal]:
        return [DemoDeal(id=d.id, owner_id=d.owner, account_id=d.account.id, account_name=d.account.name, name=d.name,
                         amount=d.row["amount"], source=d.source, created=d.created,
                         expected_close_date=d.row["expected_close_date"]) for d in self.deals if d.from_lead]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _arrival(rng: random.Random) -> float:
    """A creation day in the past year, busier in spring and autumn."""
    while True:
        day = rng.uniform(0, 365)
        season = 1 + 0.45 * math.sin((day / 365) * 4 * math.pi)
        if rng.random() < season / 1.45:
            return day


def _account(rng: random.Random, accounts: Sequence[DealAccount], day: float) -> DealAccount:
    buying = [a for a in accounts if a.buys_from <= day < a.buys_until] or list(accounts)
    return rng.choices(buying, weights=[a.weight for a in buying])[0]


async def plan_pipeline_demo(session: AsyncSession, org_id: uuid.UUID, users: Mapping[str, uuid.UUID],
                             accounts: Sequence[DealAccount]) -> DemoPlan:
    """Simulate a year of deals for the demo organisation (nothing written yet)."""
    pipeline_id = (await session.execute(
        select(Pipeline.id).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True))
    )).scalar_one_or_none()
    if pipeline_id is None:
        pipeline_id = (await create_default_pipeline(session, org_id)).id
    stages = (await session.execute(
        select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)
    )).scalars().all()
    open_stages = [s for s in stages if s.kind.value == "open"]
    won = next(s for s in stages if s.kind.value == "won")
    lost = next(s for s in stages if s.kind.value == "lost")
    reasons = {r.name: r.id for r in (await session.execute(
        select(LostReason).where(LostReason.org_id == org_id))).scalars()}
    reps = {key: uid for key, uid in users.items() if key in REP_SKILL}
    teams = dict((await session.execute(select(User.id, User.team_id).where(User.id.in_(list(reps.values()))))).all())
    accounts_of: dict[uuid.UUID, list[DealAccount]] = defaultdict(list)
    for account in accounts:
        accounts_of[account.owner_id].append(account)

    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(days=365)
    deals: list[_Deal] = []
    for _ in range(DEALS):
        rep_key = rng.choices(list(reps), weights=[4, 3, 3, 3][: len(reps)])[0]
        skill, speed = REP_SKILL[rep_key]
        day = _arrival(rng)
        created = start + dt.timedelta(days=day, hours=rng.uniform(1, 10))
        account = _account(rng, accounts_of[reps[rep_key]], day)
        amount = Decimal(str(round(rng.lognormvariate(math.log(180_000), 0.9), -2))).quantize(Decimal("0.01"))
        source = _pick(rng, SOURCES)
        short_name = account.name.split(" ")[0] if account.name.isascii() else account.name[:6]
        deal = _Deal(id=new_id(), owner=reps[rep_key], team=teams.get(reps[rep_key]), account=account, created=created,
                     name=f"{short_name} · {rng.choice(PROJECTS)}", amount=amount, source=source,
                     from_lead=rng.random() < FROM_LEAD.get(source, 0))
        stage_index, at, status, closed_at, lost_reason = 0, created, "open", None, None
        current = open_stages[0]
        regressed_once = False

        def enter(stage: Stage, when: dt.datetime, kind: str, **extra: Any) -> None:
            if deal.intervals:
                deal.intervals[-1]["exited_at"] = when
                deal.intervals[-1]["exit_kind"] = {"pipeline_changed": "moved"}.get(kind, kind)
            deal.intervals.append({"id": new_id(), "org_id": org_id, "opportunity_id": deal.id,
                                   "pipeline_id": pipeline_id, "stage_id": stage.id, "owner_id": deal.owner,
                                   "team_id": deal.team, "entered_at": when, "exited_at": None,
                                   "exit_kind": "still_open"})
            previous = deal.transitions[-1]["to_stage_id"] if deal.transitions else None
            deal.transitions.append({
                "id": new_id(), "org_id": org_id, "opportunity_id": deal.id, "kind": kind,
                "from_stage_id": previous, "to_stage_id": stage.id,
                "from_pipeline_id": pipeline_id if previous else None, "to_pipeline_id": pipeline_id,
                "actor_id": deal.owner, "occurred_at": when, "recorded_at": when, "reason": extra.get("reason"),
                "note": extra.get("note"), "lost_reason_id": extra.get("lost_reason_id"), "override": False,
                "amount": deal.amount, "seq": len(deal.transitions) + 1,
            })

        enter(current, created, "created")
        while True:
            advance_p, median_days, lost_weights = STAGE_MODEL[stage_index]
            days = rng.lognormvariate(math.log(median_days * speed), 0.6)
            leave_at = at + dt.timedelta(days=days, hours=rng.uniform(0, 8))
            if leave_at >= now:
                break  # still open in this stage
            roll = rng.random()
            if not regressed_once and stage_index >= 2 and roll < 0.05:
                regressed_once = True
                stage_index -= 1
                current, at = open_stages[stage_index], leave_at
                enter(current, at, "regressed", reason=rng.choice(REGRESS_REASONS))
                continue
            if roll < min(0.97, advance_p * skill[stage_index]):
                if stage_index == len(open_stages) - 1:
                    status, closed_at, current, at = "won", leave_at, won, leave_at
                    enter(won, at, "won", note="合同已签署 / contract signed")
                    break
                stage_index += 1
                current, at = open_stages[stage_index], leave_at
                enter(current, at, "advanced", note=rng.choice(NOTES) if stage_index == 3 else None)
                continue
            lost_reason = reasons.get(_pick(rng, lost_weights))
            status, closed_at, current, at = "lost", leave_at, lost, leave_at
            enter(lost, at, "lost", lost_reason_id=lost_reason)
            break
        expected = (closed_at or now + dt.timedelta(days=rng.randint(10, 120))).date()
        deal.row = {
            "id": deal.id, "org_id": org_id, "name": deal.name, "owner_id": deal.owner, "team_id": deal.team,
            "account_id": account.id, "pipeline_id": pipeline_id, "stage_id": current.id, "stage_entered_at": at,
            "status": status, "amount": deal.amount if stage_index >= 2 or rng.random() < 0.6 else None,
            "currency": "CNY", "expected_close_date": expected, "source": deal.source,
            "tags": rng.sample(["enterprise", "smb", "续约", "新客户", "strategic", "政府"], k=rng.randint(0, 2)),
            "description": None, "lost_reason_id": lost_reason, "closed_at": closed_at,
            "version": len(deal.transitions), "created_at": deal.created, "updated_at": at,
        }
        deals.append(deal)
    return DemoPlan(pipeline_id=pipeline_id, deals=deals)


async def write_pipeline_demo(session: AsyncSession, plan: DemoPlan, converted: Mapping[uuid.UUID, uuid.UUID]) -> int:
    """Write the planned deals. `converted` maps a planned deal to the opportunity a lead
    conversion created for it (back-dated, in the first stage, with its first visit and
    `created` move): that deal gets the rest of the planned history."""
    continued: list[_Deal] = []
    for deal in plan.deals:
        if deal.id in converted:
            deal.id = deal.row["id"] = converted[deal.id]
            for row in (*deal.intervals, *deal.transitions):
                row["opportunity_id"] = deal.id
            continued.append(deal)
    keep = ("id", "stage_id", "stage_entered_at", "status", "amount", "expected_close_date", "tags",
            "lost_reason_id", "closed_at", "version", "updated_at")
    await update_rows(session, Opportunity, [{k: d.row[k] for k in keep} for d in continued], key="id")
    first = [d.intervals[0] for d in continued]
    await update_rows(session, StageInterval, [
        {"opportunity_id": i["opportunity_id"], "exited_at": i["exited_at"], "exit_kind": i["exit_kind"]} for i in first
    ], key="opportunity_id", where=StageInterval.exited_at.is_(None))
    skip = {d.id for d in continued}
    await insert_rows(session, Opportunity, [d.row for d in plan.deals if d.id not in skip])
    await insert_rows(session, StageInterval, [i for d in plan.deals for i in d.intervals[d.id in skip:]])
    await insert_rows(session, StageTransition, [t for d in plan.deals for t in d.transitions[d.id in skip:]])
    return len(plan.deals)
