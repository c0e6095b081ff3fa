"""Per-request cost of authentication, against an unauthenticated baseline in the same run.

Three tiny endpoints are added to the real app (same middleware, same error handling):
`/bench/open` (no auth: the baseline), `/bench/authed` (needs a principal). The authed one
is called with a JWT access token and with an API key, each cached (the steady state: a
client repeating its token) and uncached (the cache cleared before every request: a JWT
verified from scratch, an API key looked up in PostgreSQL). Requests go through
httpx.ASGITransport, so the numbers are the app's own cost without socket noise.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/auth_overhead.py

It creates (and drops at the end) a database of its own on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from app.core import embedded
from app.core.config import Settings
from app.core.db import Database
from app.core.migrations import upgrade_to_head
from app.identity.api_keys import generate_api_key, hash_api_key
from app.identity.auth import CurrentPrincipal
from app.identity.models import ApiKey
from app.identity.service import create_org
from app.main import create_app


def add_bench_routes(app: FastAPI) -> None:
    async def open_endpoint() -> dict[str, bool]:
        return {"ok": True}

    async def authed_endpoint(principal: CurrentPrincipal) -> dict[str, str]:
        return {"org": str(principal.org_id)}

    app.add_api_route("/bench/open", open_endpoint, methods=["GET"])
    app.add_api_route("/bench/authed", authed_endpoint, methods=["GET"])


async def timed(client: httpx.AsyncClient, path: str, headers: dict[str, str], n: int,
                before_each: Callable[[], None] | None = None) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) per request over n sequential requests.
    CPU time is the steadier figure on a shared machine; it leaves out PostgreSQL's own
    work, which the wall time includes."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        if before_each:
            before_each()
        response = await client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text}")
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


async def run(url: str, n: int, rounds: int) -> None:
    settings = Settings(database_url=url, environment="test", log_level="WARNING",
                        jwt_keys={"bench": "bench-signing-key-with-enough-entropy-0123456789"})
    db = Database(url, settings)
    app = create_app(settings, db=db)
    add_bench_routes(app)
    async with db.sessionmaker() as session, session.begin():
        org, admin, _ = await create_org(session, name="Bench", admin_email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                         admin_password_hash="x")
        secret = generate_api_key()
        session.add(ApiKey(org_id=org.id, name="bench", prefix=secret[:12], key_hash=hash_api_key(secret),
                           scopes=["*:read"]))
    token, _ = app.state.tokens.issue_access_token(user_id=admin.id, org_id=org.id, role=admin.role, team_id=None)
    jwt_headers = {"Authorization": f"Bearer {token}"}
    key_headers = {"Authorization": f"Bearer {secret}"}
    token_cache, key_cache = app.state.tokens.cache, app.state.api_key_authenticator

    scenarios: dict[str, tuple[str, dict[str, str], Callable[[], None] | None]] = {
        "baseline (no auth)": ("/bench/open", {}, None),
        "JWT, cached": ("/bench/authed", jwt_headers, None),
        "JWT, verified every time": ("/bench/authed", jwt_headers, token_cache.clear),
        "API key, cached": ("/bench/authed", key_headers, None),
        "API key, DB lookup every time": ("/bench/authed", key_headers, key_cache.clear),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in scenarios}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, (path, headers, hook) in scenarios.items():  # warm up
            await timed(client, path, headers, 200, hook)
        for _ in range(rounds):  # interleaved, so drift in machine load hits every scenario alike
            for name, (path, headers, hook) in scenarios.items():
                results[name].append(await timed(client, path, headers, n, hook))
    async with db.sessionmaker() as session, session.begin():
        await session.delete(await session.get(type(org), org.id))
    await db.dispose()

    # Medians over the rounds; CPU time of this process and wall time.
    cpu = {name: statistics.median(c for c, _ in samples) for name, samples in results.items()}
    wall = {name: statistics.median(w for _, w in samples) for name, samples in results.items()}
    base = "baseline (no auth)"
    print(f"load average: {os.getloadavg()}  requests per scenario and round: {n}, rounds: {rounds}")
    print(f"{'scenario':32} {'CPU µs/req':>10} {'ratio':>6} {'added':>7} | {'wall µs/req':>11} {'ratio':>6}")
    for name in results:
        print(f"{name:32} {cpu[name] * 1e6:10.1f} {cpu[name] / cpu[base]:5.2f}x {(cpu[name] - cpu[base]) * 1e6:7.1f} | "
              f"{wall[name] * 1e6:11.1f} {wall[name] / wall[base]:5.2f}x")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL")
    if not server:
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (a database of its own is created there)")
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(embedded.ensure_database(server, name))
    url = embedded.database_url(server, name)
    try:
        upgrade_to_head(url)
        asyncio.run(run(url, args.n, args.rounds))
    finally:
        asyncio.run(embedded.drop_database(server, name))


if __name__ == "__main__":
    main()
