"""The outbox: an event exists if and only if its change committed; per-org sequences."""

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.events import Event, record_event
from app.identity.models import Org
from tests.support.factories import Tenant


async def test_event_rolls_back_with_its_change(session: AsyncSession, tenant: Tenant) -> None:
    nested = await session.begin_nested()
    session.add(Org(name="rolled back"))
    await record_event(session, org_id=tenant.id, type="org.created", entity_type="org", entity_id=None, payload={})
    await nested.rollback()
    count = await session.scalar(select(func.count()).select_from(Event).where(Event.org_id == tenant.id))
    assert count == 0


async def test_sequence_is_per_org_and_payload_keeps_money_exact(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    from decimal import Decimal

    seqs = [
        await record_event(session, org_id=tenant.id, type="t", entity_type="x", entity_id=None,
                           payload={"amount": Decimal("1234567.10"), "名字": "公司"})
        for _ in range(3)
    ]
    other = await record_event(session, org_id=other_tenant.id, type="t", entity_type="x", entity_id=None, payload={})
    assert seqs == [1, 2, 3]
    assert other == 1
    event = (await session.execute(select(Event).where(Event.org_id == tenant.id, Event.seq == 1))).scalar_one()
    assert event.payload == {"amount": "1234567.10", "名字": "公司"}


async def test_concurrent_writers_get_gap_free_unique_sequence(database: Database) -> None:
    async with database.sessionmaker() as s, s.begin():
        org = Org(name="seq race")
        s.add(org)
    try:
        async def write(i: int) -> int:
            async with database.sessionmaker() as s, s.begin():
                return await record_event(s, org_id=org.id, type="race", entity_type="x", entity_id=None, payload={"i": i})

        seqs = await asyncio.gather(*(write(i) for i in range(20)))
        assert sorted(seqs) == list(range(1, 21))
    finally:
        async with database.sessionmaker() as s, s.begin():
            await s.delete(await s.get(Org, org.id))
