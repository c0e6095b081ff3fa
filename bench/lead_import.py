"""Bulk lead import benchmark: 100,000 CSV rows with dedupe on, against a plain COPY of
the same file into a bare table in the same run (the floor any import can reach).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/lead_import.py [--rows 100000] [--runs 3]

It creates a throw-away database, migrates it, and per run: a fresh organisation with 10
users, 5 scoring rules and 10,000 existing leads (so dedupe has something to find); then
times (1) the bare COPY and (2) the real import (`app.leads.importer`, what the worker and
`crm import leads` run), and reports rows/s and the ratio. Also times the Python parse
pass alone, to show where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
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
from app.leads import importer
from app.leads.models import ScoringRule

HEADER = ["first_name", "last_name", "email", "phone", "title", "company", "company_size", "region",
          "product_interest", "source", "campaign", "owner_email"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "Wei", "Lei", "Min", "Jing", "Anna", "Tom"]
SUFFIXES = ["有限公司", "股份有限公司", " Co., Ltd.", " Inc", " Ltd", ""]
SOURCES = ["web_form", "social", "event", "visit", "hotline", "referral", "api"]


def make_csv(path: Path, rows: int, users: list[str], seed: int, existing_emails: list[str]) -> None:
    rnd = random.Random(seed)
    companies = [f"{rnd.choice(['华东', '深圳', 'North', 'Acme', '上海', 'Global'])}{i}{rnd.choice(SUFFIXES)}" for i in range(5000)]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            r = rnd.random()
            email = f"lead{seed}.{i}@example{i % 50}.cn"
            if r < 0.01 and i > 10:
                email = f"lead{seed}.{rnd.randrange(i)}@example{rnd.randrange(i) % 50}.cn"  # repeat in file
            elif r < 0.02 and existing_emails:
                email = rnd.choice(existing_emails)  # matches an existing lead
            elif r < 0.025:
                email = "not-an-email"
            phone = f"1{rnd.choice('35789')}{rnd.randrange(10**9):09d}" if rnd.random() < 0.8 else ""
            w.writerow([rnd.choice(GIVEN), rnd.choice(SURNAMES), email, phone, rnd.choice(["采购经理", "CTO", "Buyer", ""]),
                        rnd.choice(companies), rnd.choice(["", "50", "200", "800", "5000"]), rnd.choice(["East", "North", "South"]),
                        rnd.choice(["CNC", "Lathe", "Laser", ""]), rnd.choice(SOURCES), rnd.choice(["Expo 2026", "", "Q4 push"]),
                        rnd.choice(users) if rnd.random() < 0.7 else ""])


async def setup_org(db: Database, run: int) -> tuple[object, list[str]]:
    async with db.sessionmaker() as s, s.begin():
        org = Org(name=f"Bench {run} {new_id().hex[-6:]}")
        s.add(org)
        await s.flush()
        emails = []
        for i in range(10):
            email = f"rep{i}-{org.id.hex[-8:]}@bench.example"
            s.add(User(org_id=org.id, email=email, full_name=f"Rep {i}", role=Role.rep))
            emails.append(email)
        for name, field, op, value, pts in [("Referral", "source", "eq", "referral", 20), ("Big", "company_size", "gt", 500, 15),
                                            ("No phone", "phone", "is_empty", None, -10), ("CNC", "product_interest", "in", ["CNC", "Laser"], 30),
                                            ("Buyer", "title", "contains", "采购", 10)]:
            s.add(ScoringRule(org_id=org.id, name=name, field=field, operator=op, value=value, points=pts, version=1))
        return org.id, emails


async def run_import(db: Database, org_id: object, path: Path, chunk: int = importer.CHUNK_ROWS) -> tuple[float, object]:
    maker = async_sessionmaker(db.engine, expire_on_commit=False, autoflush=False)
    content = path.read_bytes()
    started = time.perf_counter()
    job = await importer.start_direct(maker, org_id=org_id, created_by=None, filename=path.name, skip_duplicates=True)
    done = await importer.process(maker, job, content, chunk_rows=chunk)
    return time.perf_counter() - started, done


async def bare_copy(url: str, path: Path) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (" + ", ".join(f"{c} text" for c in HEADER) + ")")
        started = time.perf_counter()
        with path.open("rb") as f:
            await conn.copy_to_table("bench_copy", source=f, format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


def parse_only(path: Path) -> float:
    text = path.read_text(encoding="utf-8")
    started = time.perf_counter()
    reader = csv.reader(io.StringIO(text))
    parser = importer.RowParser(importer.header_index(next(reader)), "import", "CN")
    while parser.parse(reader, 0, 25_000):
        pass
    return time.perf_counter() - started


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=importer.CHUNK_ROWS)
    ap.add_argument("--temp-buffers", default=None, help="e.g. 64MB: ALTER DATABASE ... SET temp_buffers")
    args = ap.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"crm_bench_{new_id().hex[-8:]}"
    await embedded.ensure_database(server, name)
    url = embedded.database_url(server, name)
    if args.temp_buffers:
        conn = await asyncpg.connect(url)
        await conn.execute(f"ALTER DATABASE {name} SET temp_buffers = '{args.temp_buffers}'")
        await conn.close()
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url, Settings(database_url=url, log_level="WARNING"))
    tmp = Path("/tmp")
    print(f"rows={args.rows} runs={args.runs} chunk={args.chunk} temp_buffers={args.temp_buffers or 'default'} load before: {subprocess.getoutput('uptime').strip()}")
    try:
        for run in range(args.runs):
            org_id, users = await setup_org(db, run)
            seed_file = tmp / f"bench_existing_{run}.csv"
            make_csv(seed_file, 10_000, users, seed=1000 + run, existing_emails=[])
            await run_import(db, org_id, seed_file)  # 10k existing leads (untimed)
            existing = [f"lead{1000 + run}.{i}@example{i % 50}.cn" for i in range(0, 10_000, 7)]
            path = tmp / f"bench_leads_{run}.csv"
            make_csv(path, args.rows, users, seed=run, existing_emails=existing)
            copy_s = await bare_copy(url, path)
            importer.TIMINGS.steps = {}
            import_s, done = await run_import(db, org_id, path, args.chunk)
            steps, importer.TIMINGS.steps = importer.TIMINGS.steps, None
            parse_s = parse_only(path)
            print(f"run {run}: COPY {args.rows / copy_s:,.0f} rows/s ({copy_s:.2f}s) | import {args.rows / import_s:,.0f} rows/s "
                  f"({import_s:.2f}s; created {done.created_count}, duplicates {done.duplicate_count}, errors {done.error_count}) "
                  f"| import/COPY time ratio {import_s / copy_s:.1f}x | parse pass alone {parse_s:.2f}s")
            if done.failure:
                print("   FAILED:", done.failure)
            print("   steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        print(f"load after: {subprocess.getoutput('uptime').strip()}")
    finally:
        await db.dispose()
        await embedded.drop_database(server, name)


if __name__ == "__main__":
    asyncio.run(main())
