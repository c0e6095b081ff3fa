"""The floor: a bare Starlette + raw asyncpg app doing the same work as our two
benchmarked endpoints, with the same SQL statements (taken from the app's own modules),
the same JWT verification (pyjwt) and orjson output. No ORM, no validation layer,
no middleware, no logging.

Run: uvicorn bench.baseline_app:app (env: DATABASE_URL, BENCH_JWT_KEY).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import os
import re
import uuid

import asyncpg
import jwt
import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.pipelines.queries import o, opportunity_view, view_select
from app.pipelines.transitions import _LOAD_COLUMNS, _LOAD_FROM, _WRITE, _dumps

KEY = os.environ.get("BENCH_JWT_KEY", "bench-signing-key-0123456789abcdef0123456789")


def to_dollar(sql: str) -> tuple[str, list[str]]:
    """`:name` placeholders -> `$n`, and the parameter order."""
    names: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"(?<![:\w]):(\w+)", sub, sql), names


def compiled(stmt) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    return to_dollar(str(stmt.compile(dialect=postgresql.dialect(paramstyle="named"))))


READ_SQL, READ_PARAMS = compiled(
    view_select().where(o.c.id == bindparam("id"), o.c.org_id == bindparam("org_id"), o.c.deleted_at.is_(None)))
LOAD_SQL, LOAD_PARAMS = compiled(
    select(*_LOAD_COLUMNS).select_from(_LOAD_FROM).where(
        o.c.id == bindparam("id"), o.c.org_id == bindparam("org_id"), o.c.deleted_at.is_(None)))
WRITE_SQL, WRITE_PARAMS = to_dollar(_WRITE.text)

pool: asyncpg.Pool | None = None
gate: asyncio.Semaphore | None = None
# The same first-come-first-served wait for a connection as ours (app/core/hot_reads.py):
# asyncpg's own wait lets late arrivals overtake. BENCH_FAIR=0 measures the pool as it is.
FAIR = os.environ.get("BENCH_FAIR", "1") == "1"


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    global pool, gate
    size = int(os.environ.get("BENCH_POOL", "20"))  # the same number ours gets (CRM_DB_POOL_SIZE)
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=min(4, size), max_size=size)
    gate = asyncio.Semaphore(size if FAIR else 1_000_000)
    # The same GC settings as ours (app/main._tune_gc). Without them the floor, which imports
    # SQLAlchemy and the app's modules for its SQL, ran gen-2 collections of 110-130 ms
    # under load, its own p99.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    yield
    await pool.close()


def auth(request: Request) -> dict:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return jwt.decode(token, KEY, algorithms=["HS256"], audience="crm-pipeline-api", issuer="crm-pipeline")


def json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status_code=status, media_type="application/json")


async def get_opportunity(request: Request) -> Response:
    claims = auth(request)
    args = {"id": uuid.UUID(request.path_params["id"]), "org_id": uuid.UUID(claims["org"])}
    async with gate, pool.acquire() as conn:  # type: ignore[union-attr]
        row = await conn.fetchrow(READ_SQL, *(args[n] for n in READ_PARAMS))
    if row is None:
        return json({"code": "not-found"}, 404)
    return json(opportunity_view(row))


async def transition(request: Request) -> Response:
    claims = auth(request)
    body = orjson.loads(await request.body())
    org_id, actor = uuid.UUID(claims["org"]), uuid.UUID(claims["sub"])
    opp_id = uuid.UUID(request.path_params["id"])
    args = {"id": opp_id, "org_id": org_id, "to_stage_id": uuid.UUID(body["to_stage_id"]), "lost_reason_id": None}
    async with pool.acquire() as conn, conn.transaction():  # type: ignore[union-attr]
        row = await conn.fetchrow(LOAD_SQL, *(args[n] for n in LOAD_PARAMS))
        if row is None:
            return json({"code": "not-found"}, 404)
        if row["t_id"] is None or row["t_id"] == row["stage_id"] or row["status"] != "open":
            return json({"code": "invalid"}, 409)
        kind = "advanced" if row["t_position"] > row["stage_position"] else "regressed"
        now = dt.datetime.now(dt.UTC)
        view = opportunity_view({**row, "stage_id": row["t_id"], "version": row["version"] + 1, "stage_entered_at": now,
                                 "stage_name": row["t_name"], "stage_labels": row["t_labels"],
                                 "stage_kind": row["t_kind"], "stage_probability": row["t_probability"],
                                 "stage_sla_days": row["t_sla_days"]})
        transition = {"id": uuid.uuid4(), "kind": kind, "from_stage_id": row["stage_id"], "to_stage_id": row["t_id"],
                      "occurred_at": now, "reason": body.get("reason"), "seq": row["version"] + 1}
        payload = {"opportunity": view, "transition": transition, "amount": row["amount"], "owner_id": row["owner_id"]}
        params = {
            "opp_id": opp_id, "org_id": org_id, "version": row["version"], "to_stage_id": row["t_id"],
            "to_pipeline_id": row["t_pipeline_id"], "status": "open", "occurred_at": now, "closed_at": None,
            "lost_reason_id": None, "now": now, "exit_kind": kind, "interval_id": uuid.uuid4(),
            "transition_id": transition["id"], "kind": kind, "from_stage_id": row["stage_id"],
            "from_pipeline_id": row["pipeline_id"], "actor_id": actor, "reason": body.get("reason"),
            "note": body.get("note"), "override": False, "event_id": uuid.uuid4(),
            "event_type": "opportunity.stage_changed", "payload": _dumps(payload), "audit_id": uuid.uuid4(),
            "actor_kind": "user", "changes": _dumps({"stage_id": {"before": row["stage_id"], "after": row["t_id"]}}),
            "request_id": None,
        }
        result = await conn.fetchrow(WRITE_SQL, *(params[n] for n in WRITE_PARAMS))
        if result is None:
            return json({"code": "concurrent-change"}, 409)
    return json({"opportunity": view, "transition": transition}, 201)


app = Starlette(
    routes=[
        Route("/v1/opportunities/{id}", get_opportunity, methods=["GET"]),
        Route("/v1/opportunities/{id}/transitions", transition, methods=["POST"]),
    ],
    lifespan=lifespan,
)
