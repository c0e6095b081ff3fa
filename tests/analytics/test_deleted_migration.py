"""Migration 0020 on a database that already holds a soft-deleted deal: the upgrade takes it
out of the summary, rollup and duration histogram once; the downgrade puts it back (the
0012/0013 behaviour, deleted deals counted)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from alembic import command

from app.core.ids import new_id
from app.core.migrations import alembic_config
from tests.support import database as testdb

SETUP = """
INSERT INTO org (id, name) VALUES ({org}, 'Org');
INSERT INTO "user" (id, org_id, email, full_name, role, version) VALUES ({user}, {org}, 'a@example.com', 'A', 'rep', 1);
INSERT INTO pipeline (id, org_id, name, version) VALUES ({pipeline}, {org}, 'P', 1);
INSERT INTO stage (id, org_id, pipeline_id, name, position, kind, probability, version) VALUES
  ({prospect}, {org}, {pipeline}, 'Prospect', 10, 'open', 0.1, 1), ({won}, {org}, {pipeline}, 'Won', 90, 'won', 1, 1);
"""
# Two deals won the same way (Prospect 2 days, then Won); the first one is deleted.
DEAL = """
INSERT INTO opportunity (id, org_id, name, owner_id, pipeline_id, stage_id, stage_entered_at, status, currency,
                         version, created_at, closed_at, deleted_at)
VALUES ({deal}, {org}, 'D', {user}, {pipeline}, {won}, '2026-01-07Z', 'won', 'CNY', 1, '2026-01-05Z', '2026-01-07Z', {deleted});
INSERT INTO stage_interval (id, org_id, opportunity_id, pipeline_id, stage_id, owner_id, entered_at, exited_at, exit_kind)
VALUES ({i1}, {org}, {deal}, {pipeline}, {prospect}, {user}, '2026-01-05Z', '2026-01-07Z', 'won'),
       ({i2}, {org}, {deal}, {pipeline}, {won}, {user}, '2026-01-07Z', NULL, 'still_open');
"""
COUNTS = """
SELECT (SELECT count(*) FROM stage_summary WHERE org_id = $1) AS summary_rows,
       (SELECT coalesce(sum(entered), 0) FROM stage_rollup WHERE org_id = $1 AND cohort = 'reached') AS entered,
       (SELECT coalesce(sum(n), 0) FROM duration_histogram WHERE org_id = $1 AND figure = 'visit') AS visits,
       (SELECT coalesce(sum(n), 0) FROM duration_histogram WHERE org_id = $1 AND figure = 'won') AS won
"""


async def _run(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if args:
            return dict(await conn.fetchrow(sql, *args))
        await conn.execute(sql)  # a script of literal statements, one transaction
    finally:
        await conn.close()


def _literals(**values: Any) -> dict[str, str]:
    return {k: "NULL" if v is None else f"'{v.isoformat() if isinstance(v, dt.datetime) else v}'"
            for k, v in values.items()}


def test_upgrade_takes_a_deleted_deal_out_and_downgrade_puts_it_back(pg_server: str) -> None:
    name, url = testdb.create_test_database(pg_server)
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0019")
        org, user, pipeline, prospect, won = (new_id() for _ in range(5))
        ids = dict(org=org, user=user, pipeline=pipeline, prospect=prospect, won=won)
        testdb.run_sync(_run(url, SETUP.format(**_literals(**ids))))
        for when in (dt.datetime(2026, 2, 1, tzinfo=dt.UTC), None):
            deal = DEAL.format(**_literals(**ids, deal=new_id(), deleted=when, i1=new_id(), i2=new_id()))
            testdb.run_sync(_run(url, deal))
        counted_both = {"summary_rows": 2, "entered": 2, "visits": 2, "won": 2}
        counted_one = {"summary_rows": 1, "entered": 1, "visits": 1, "won": 1}
        assert testdb.run_sync(_run(url, COUNTS, org)) == counted_both  # 0019: the deleted deal counts
        command.upgrade(cfg, "0020")
        assert testdb.run_sync(_run(url, COUNTS, org)) == counted_one
        command.downgrade(cfg, "0019")
        assert testdb.run_sync(_run(url, COUNTS, org)) == counted_both
        command.upgrade(cfg, "head")
        assert testdb.run_sync(_run(url, COUNTS, org)) == counted_one
    finally:
        testdb.drop_test_database(pg_server, name)
