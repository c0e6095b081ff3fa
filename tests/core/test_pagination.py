"""Keyset pagination over a real table: stable order, no skips or repeats, bad cursors 400."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import InvalidCursor, encode_cursor, keyset_page, page_of
from app.identity.models import Team
from tests.support.factories import Tenant


async def _pages(session: AsyncSession, org_id, limit: int, descending: bool = False) -> list[list[str]]:
    cols = (Team.name, Team.id)
    pages, cursor = [], None
    while True:
        stmt = keyset_page(select(Team).where(Team.org_id == org_id), cols, cursor=cursor, limit=limit,
                           descending=descending)
        rows = (await session.execute(stmt)).scalars().all()
        items, cursor = page_of(rows, limit, key=lambda t: (t.name, t.id))
        pages.append([t.name for t in items])
        if cursor is None:
            return pages


async def test_pages_cover_every_row_once_in_order(session: AsyncSession, tenant: Tenant) -> None:
    names = ["北京", "上海", "Alpha", "alpha", "Beta", "Beta", "Gamma"]  # duplicates tie-break on id
    for n in names:
        await tenant.add_team(n)
    pages = await _pages(session, tenant.id, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [n for p in pages for n in p]
    assert sorted(flat) == sorted(names)
    assert flat == sorted(flat)  # database collation order, stable across pages

    desc = [n for p in await _pages(session, tenant.id, limit=2, descending=True) for n in p]
    assert desc == list(reversed(flat))


async def test_exact_multiple_has_no_empty_trailing_page(session: AsyncSession, tenant: Tenant) -> None:
    for n in ["a", "b", "c", "d"]:
        await tenant.add_team(n)
    assert await _pages(session, tenant.id, limit=2) == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("cursor", ["not-base64!!", encode_cursor(["only-one-value"]), encode_cursor(["x", "not-a-uuid"]), "e30"])
async def test_malformed_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        keyset_page(select(Team), (Team.name, Team.id), cursor=cursor, limit=10)
