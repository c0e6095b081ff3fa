"""Builders for pipelines (directly via the models) and events, shared by the leads,
accounts and activities tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import Event
from app.pipelines.models import Pipeline, Stage, StageKind


async def make_pipeline(session: AsyncSession, org_id: uuid.UUID, *, default: bool = True, name: str = "Sales 销售") -> Pipeline:
    """A small five-stage pipeline; `default=True` makes it the organisation's default in
    place of the one every organisation is born with."""
    if default:
        await session.execute(
            update(Pipeline).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True)).values(is_default=False))
    pipeline = Pipeline(org_id=org_id, name=name, is_default=default, version=1)
    session.add(pipeline)
    await session.flush()
    for pos, (stage_name, kind, prob) in enumerate([
        ("Prospect 潜在客户", StageKind.open, "0.1"), ("Needs analysis 需求分析", StageKind.open, "0.3"),
        ("Negotiation 谈判", StageKind.open, "0.7"), ("Won 赢单", StageKind.won, "1"), ("Lost 输单", StageKind.lost, "0"),
    ]):
        session.add(Stage(org_id=org_id, pipeline_id=pipeline.id, name=stage_name, position=pos, kind=kind,
                          probability=Decimal(prob), version=1))
    await session.flush()
    return pipeline


async def stages_of(session: AsyncSession, pipeline_id: uuid.UUID) -> list[Stage]:
    return list(await session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)))


async def events(session: AsyncSession, org_id: uuid.UUID, type_: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.org_id == org_id).order_by(Event.seq)
    if type_:
        stmt = stmt.where(Event.type == type_)
    return list(await session.scalars(stmt))


def lead_body(**over: Any) -> dict[str, Any]:
    body = {"first_name": "伟", "last_name": "张", "email": "zhang.wei@example.cn", "phone": "138 0013 8000",
            "company": "上海华东机械有限公司", "source": "web_form"}
    body.update(over)
    return body
