"""Bulk account and contact import benchmark, each against a plain COPY of the same file
into a bare table of text columns in the same run (the floor any import can reach).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres flock /tmp/bench.lock \\
        .venv/bin/python bench/account_import.py [--rows 50000] [--runs 3]

It creates a throw-away database, migrates it, and per run: a fresh organisation with 10
users and 5,000 existing accounts and contacts (untimed, so dedupe and linking have
something to find); then times the bare COPY and the real import (`app.imports.jobs`, what
the worker and `crm import accounts|contacts` run) of `--rows` accounts, then of `--rows`
contacts whose account_name names one of the accounts, and reports rows/s and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import time
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core import embedded
from app.core.config import Settings
from app.core.db import Database
from app.core.ids import new_id
from app.core.migrations import upgrade_to_head
from app.identity.models import Org, Role, User
from app.imports import jobs, runner
from app.leads.models import ImportKind

ACCOUNT_HEADER = ["name", "website", "industry", "size", "region", "tier", "lifecycle", "owner_email"]
CONTACT_HEADER = ["first_name", "last_name", "email", "phone", "title", "owner_email", "account_name"]
SUFFIXES = ["有限公司", "股份有限公司", " Co., Ltd.", " Inc", " Ltd", ""]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "Wei", "Lei", "Min", "Anna", "Tom"]


def company(seed: int, i: int) -> str:
    return f"{['华东', '深圳', 'North', 'Acme', '上海', 'Global'][i % 6]}{seed}x{i}{SUFFIXES[i % len(SUFFIXES)]}"


def make_accounts(path: Path, rows: int, users: list[str], seed: int) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(ACCOUNT_HEADER)
        for i in range(rows):
            r = rnd.random()
            name = company(seed, rnd.randrange(i) if r < 0.01 and i else i)  # ~1% repeat an earlier row
            if r > 0.995:
                name = company(seed - 1000, rnd.randrange(5000))  # matches an existing account
            w.writerow([name, f"https://c{seed}-{i}.example.cn", rnd.choice(["Machinery", "Retail", ""]),
                        rnd.choice(["", "50", "1200", "lots" if r < 0.02 else "80"]), rnd.choice(["East", "North"]),
                        rnd.choice(["", "strategic"]), rnd.choice(["", "customer", "prospect"]),
                        rnd.choice(users) if rnd.random() < 0.7 else ""])


def make_contacts(path: Path, rows: int, users: list[str], seed: int, accounts: int) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CONTACT_HEADER)
        for i in range(rows):
            r = rnd.random()
            j = rnd.randrange(i) if r < 0.01 and i else i  # ~1% repeat an earlier row's email
            email = f"c{seed}.{j}@example{j % 50}.cn"
            if r > 0.995:
                j = rnd.randrange(5000)  # matches an existing contact
                email = f"c{seed - 1000}.{j}@example{j % 50}.cn"
            phone = f"1{rnd.choice('35789')}{rnd.randrange(10**9):09d}" if rnd.random() < 0.6 else ""
            account = company(seed, rnd.randrange(accounts)) if rnd.random() < 0.9 else ""
            w.writerow([rnd.choice(GIVEN), rnd.choice(SURNAMES), email, phone, rnd.choice(["采购经理", "CTO", ""]),
                        rnd.choice(users) if rnd.random() < 0.7 else "", account])


async def setup_org(db: Database, run: int) -> tuple[object, object, list[str]]:
    async with db.sessionmaker() as s, s.begin():
        org = Org(name=f"Bench {run} {new_id().hex[-6:]}")
        s.add(org)
        await s.flush()
        users = [User(org_id=org.id, email=f"rep{i}-{org.id.hex[-8:]}@bench.example", full_name=f"Rep {i}",
                      role=Role.rep) for i in range(10)]
        s.add_all(users)
        await s.flush()
        return org.id, users[0].id, [u.email for u in users]


async def run_import(db: Database, org_id: object, creator: object, kind: ImportKind, path: Path) -> tuple[float, object]:
    maker = async_sessionmaker(db.engine, expire_on_commit=False, autoflush=False)
    content = path.read_bytes()
    started = time.perf_counter()
    job = await jobs.start_direct(maker, org_id=org_id, created_by=creator, filename=path.name, skip_duplicates=True,
                                  kind=kind)
    done = await jobs.process(maker, job, content)
    return time.perf_counter() - started, done


async def error_codes(url: str, import_id: object) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return dict(await conn.fetch("SELECT code, count(*) FROM lead_import_error WHERE import_id = $1 "
                                     "GROUP BY code ORDER BY 2 DESC", import_id))
    finally:
        await conn.close()


async def bare_copy(url: str, path: Path, header: list[str]) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (" +
                           ", ".join(f"{c} text" for c in header) + ")")
        started = time.perf_counter()
        with path.open("rb") as f:
            await conn.copy_to_table("bench_copy", source=f, format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"crm_bench_{new_id().hex[-8:]}"
    await embedded.ensure_database(server, name)
    url = embedded.database_url(server, name)
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url, Settings(database_url=url, log_level="WARNING"))
    tmp = Path("/tmp")
    print(f"rows={args.rows} runs={args.runs} load before: {subprocess.getoutput('uptime').strip()}")
    try:
        for run in range(args.runs):
            org_id, creator, users = await setup_org(db, run)
            for kind, make, header in ((ImportKind.accounts, make_accounts, ACCOUNT_HEADER),
                                       (ImportKind.contacts, make_contacts, CONTACT_HEADER)):
                extra = (5000,) if kind is ImportKind.contacts else ()
                existing = tmp / f"bench_existing_{kind.value}_{run}.csv"
                make(existing, 5000, users, 1000 + run, *extra)
                await run_import(db, org_id, creator, kind, existing)  # untimed
                extra = (args.rows,) if kind is ImportKind.contacts else ()
                path = tmp / f"bench_{kind.value}_{run}.csv"
                make(path, args.rows, users, 2000 + run, *extra)
                copy_s = await bare_copy(url, path, header)
                runner.TIMINGS.steps = {}
                import_s, done = await run_import(db, org_id, creator, kind, path)
                steps, runner.TIMINGS.steps = runner.TIMINGS.steps, None
                print(f"run {run} {kind.value}: COPY {args.rows / copy_s:,.0f} rows/s ({copy_s:.2f}s) | import "
                      f"{args.rows / import_s:,.0f} rows/s ({import_s:.2f}s; created {done.created_count}, duplicates "
                      f"{done.duplicate_count}, errors {done.error_count}) | import/COPY time {import_s / copy_s:.1f}x")
                codes = await error_codes(url, done.id)
                print(f"   row errors: {codes}")
                print("   steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
                if done.failure:
                    print("   FAILED:", done.failure)
        print(f"load after: {subprocess.getoutput('uptime').strip()}")
    finally:
        await db.dispose()
        await embedded.drop_database(server, name)


if __name__ == "__main__":
    asyncio.run(main())
