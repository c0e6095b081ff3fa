"""Prepare the pipelines benchmark: a migrated database with one organisation, an admin,
and groups of open deals (one fresh group per transition run), written set-based.

Writes bench/.state.json (token, ids) and the wrk id lists under bench/.data/.
Usage: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/crm_bench python bench/setup_pipelines.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import embedded  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.migrations import upgrade_to_head  # noqa: E402
from app.identity.models import Org, Role, User  # noqa: E402
from app.identity.tokens import TokenCodec  # noqa: E402
from app.pipelines.service import create_default_pipeline  # noqa: E402

HERE = Path(__file__).resolve().parent
DEALS_PER_GROUP = int(os.environ.get("BENCH_DEALS", "3000"))
GROUPS = int(os.environ.get("BENCH_GROUPS", "13"))
JWT_KEYS = {"bench": "bench-signing-key-0123456789abcdef0123456789"}


async def main() -> None:
    url = os.environ["DATABASE_URL"]
    dbname = url.rsplit("/", 1)[1]
    await embedded.drop_database(url, dbname)
    await embedded.ensure_database(url, dbname)
    await asyncio.to_thread(upgrade_to_head, url)
    settings = Settings(database_url=url, jwt_keys=JWT_KEYS, access_token_ttl_s=7 * 24 * 3600)  # outlives the runs
    db = Database(url, settings)
    async with db.sessionmaker() as s, s.begin():
        org = Org(name="Bench Co 基准")
        s.add(org)
        await s.flush()
        admin = User(org_id=org.id, email="bench-admin@example.test", full_name="Bench Admin", role=Role.admin)
        s.add(admin)
        await s.flush()
        pipeline = await create_default_pipeline(s, org.id)
        org_id, admin_id, pipeline_id = org.id, admin.id, pipeline.id
    await db.dispose()
    conn = await asyncpg.connect(url)
    stages = {r["name"]: r["id"] for r in await conn.fetch(
        "SELECT id, name FROM stage WHERE pipeline_id = $1", pipeline_id)}
    first = stages["Prospect identification"]
    groups: list[list[str]] = []
    for g in range(GROUPS):
        rows = await conn.fetch(
            """
            WITH d AS (
                INSERT INTO opportunity (id, org_id, name, owner_id, pipeline_id, stage_id, stage_entered_at, status,
                                         amount, currency, expected_close_date, version, tags)
                SELECT gen_random_uuid(), $1, 'Bench deal 基准 ' || $4 || '-' || i, $2, $3, $5,
                       now() - interval '1 day', 'open', 1000 + i, 'CNY', current_date + 60, 1, '{bench}'
                FROM generate_series(1, $6) AS i
                RETURNING id, org_id, pipeline_id, stage_id, owner_id, stage_entered_at, amount
            ), iv AS (
                INSERT INTO stage_interval (id, org_id, opportunity_id, pipeline_id, stage_id, owner_id, entered_at, exit_kind)
                SELECT gen_random_uuid(), org_id, id, pipeline_id, stage_id, owner_id, stage_entered_at, 'still_open' FROM d
            ), tr AS (
                INSERT INTO stage_transition (id, org_id, opportunity_id, kind, to_stage_id, to_pipeline_id, actor_id,
                                              occurred_at, amount, seq)
                SELECT gen_random_uuid(), org_id, id, 'created', stage_id, pipeline_id, owner_id, stage_entered_at, amount, 1 FROM d
            )
            SELECT id FROM d
            """,
            org_id, admin_id, pipeline_id, str(g), first, DEALS_PER_GROUP,
        )
        groups.append([str(r["id"]) for r in rows])
    await conn.execute("ANALYZE")
    await conn.close()
    token, _ = TokenCodec(settings).issue_access_token(user_id=admin_id, org_id=org_id, role=Role.admin, team_id=None)
    data = HERE / ".data"
    data.mkdir(exist_ok=True)
    (data / "next_group").write_text("1")  # group 0 is for reads
    for g, ids in enumerate(groups):
        (data / f"deals_{g}.txt").write_text("\n".join(ids) + "\n")
    state = {"token": token, "org_id": str(org_id), "admin_id": str(admin_id), "pipeline_id": str(pipeline_id),
             "stage_a": str(stages["First contact"]), "stage_b": str(stages["Needs analysis"]),
             "groups": GROUPS, "jwt_keys": JWT_KEYS}
    (HERE / ".state.json").write_text(json.dumps(state, indent=2))
    print(f"ready: {GROUPS} groups x {DEALS_PER_GROUP} deals")


if __name__ == "__main__":
    asyncio.run(main())
