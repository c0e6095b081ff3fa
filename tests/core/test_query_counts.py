"""No N+1: a list endpoint runs the same number of SQL statements for one item as for many.

Each list is read once with one item and again after more were added; a query per item
(a lazy relationship, a lookup in a loop) shows up as a difference in the counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.pipelines.helpers import new_deal, stages
from tests.pipelines.test_pipelines import RENEWALS
from tests.support.crm_data import lead_body
from tests.support.factories import Tenant

MORE = 5


@contextmanager
def counting(connection: AsyncConnection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", count)


async def _statements(client: httpx.AsyncClient, connection: AsyncConnection, url: str, headers: dict[str, str],
                      expect: int) -> int:
    await client.get(url, headers=headers)  # warm: token and settings caches
    with counting(connection) as statements:
        r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    assert len(items) >= expect, (url, len(items))
    return len(statements)


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _world(client: httpx.AsyncClient, tenant: Tenant, n: int, start: int, ids: dict[str, str]) -> None:
    """n of everything, numbered from `start`, on one account and one deal (kept in `ids`)."""
    h = tenant.admin.headers
    names = await stages(client, tenant.admin)
    if "account" not in ids:
        ids["account"] = _ok(await client.post("/v1/accounts", json={"name": "Query Count Co"}, headers=h))["id"]
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    for i in range(start, start + n):
        if i:  # the first of these is the tenant's own (admin, default pipeline) or the one above
            await tenant.add_user()
            _ok(await client.post("/v1/pipelines", json={**RENEWALS, "name": f"Renewals {i}"}, headers=h))
            _ok(await client.post("/v1/accounts", json={"name": f"Account {i}"}, headers=h))
        _ok(await client.post("/v1/leads", json=lead_body(email=f"q{i}@count.example", phone=None, company=f"Co {i}"),
                              headers=h))
        _ok(await client.post("/v1/contacts", json={"last_name": f"C{i}", "account_id": ids.get("account")}, headers=h))
        _ok(await client.post("/v1/activities", json={"kind": "call", "subject": f"Call {i}", "account_id": ids.get("account")},
                              headers=h))
        _ok(await client.post("/v1/tasks", json={"title": f"Task {i}", "due_at": due}, headers=h))
        deal = await new_deal(client, tenant.admin, name=f"Deal {i}", account_id=ids.get("account"), amount="100.00")
        ids.setdefault("deal", deal["id"])
        _ok(await client.post(f"/v1/opportunities/{ids['deal']}/transitions",
                              json={"to_stage_id": names[list(names)[1 + i % 2]], "reason": "count", "note": str(i)},
                              headers=h))


async def test_list_endpoints_do_not_query_per_item(client: httpx.AsyncClient, connection: AsyncConnection,
                                                    tenant: Tenant) -> None:
    h = tenant.admin.headers
    ids: dict[str, str] = {}
    await _world(client, tenant, 1, 0, ids)
    urls: list[tuple[str, int]] = [
        ("/v1/leads", 1), ("/v1/accounts", 1), ("/v1/contacts", 1), ("/v1/activities", 1), ("/v1/tasks", 1),
        ("/v1/opportunities", 1), ("/v1/pipelines", 1), (f"/v1/opportunities/{ids['deal']}/transitions", 2),
        (f"/v1/accounts/{ids['account']}/timeline", 3), ("/v1/events", 1), ("/v1/audit-log", 1), ("/v1/users", 1),
    ]
    before = {url: await _statements(client, connection, url, h, expect) for url, expect in urls}
    await _world(client, tenant, MORE, 1, ids)
    after = {url: await _statements(client, connection, url, h, expect + MORE) for url, expect in urls}
    assert after == before
