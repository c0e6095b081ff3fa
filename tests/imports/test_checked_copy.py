"""An import's COPY checks foreign keys once per chunk instead of per row (app/imports/writes.py):
the constraints must hold exactly as with PostgreSQL's own per-row checks, and the fast path
may only be taken where it is provably the same."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.core.config import get_settings
from app.identity.models import Role
from app.imports.writes import CheckedCopy
from app.leads import importer
from tests.support.factories import Tenant

COLUMNS = ("id", "org_id", "owner_id", "last_name", "source", "version")


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


@pytest.fixture
async def other_pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


@pytest.fixture
def chunk_key_checks_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CRM_IMPORT_CHUNK_KEY_CHECKS", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("CRM_IMPORT_CHUNK_KEY_CHECKS")
    get_settings.cache_clear()


async def _copier(conn: asyncpg.Connection, per_chunk: bool) -> CheckedCopy:
    copy = await CheckedCopy.prepare(conn, "lead", COLUMNS)
    # The tests run as a superuser: the per-chunk path is the one taken; the other is the
    # plain COPY with PostgreSQL's per-row checks, which must behave the same.
    assert copy.keys is not None
    return copy if per_chunk else CheckedCopy("lead", COLUMNS, None)


def _lead(org_id: uuid.UUID, owner_id: uuid.UUID | None) -> tuple[object, ...]:
    return uuid.uuid4(), org_id, owner_id, "Imported", "import", 1


@pytest.mark.parametrize("per_chunk", [True, False], ids=["per-chunk", "per-row"])
async def test_rows_naming_a_missing_owner_or_org_are_refused(pg: asyncpg.Connection, committed_tenant: Tenant,
                                                               per_chunk: bool) -> None:
    rep = await committed_tenant.add_user(Role.rep)
    await committed_tenant.session.commit()
    for bad in (_lead(committed_tenant.id, uuid.uuid4()), _lead(uuid.uuid4(), rep.id)):
        good = _lead(committed_tenant.id, rep.id)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with pg.transaction():
                await (await _copier(pg, per_chunk)).copy(pg, [good, bad])
        assert await pg.fetchval("SELECT count(*) FROM lead WHERE id = ANY($1::uuid[])", [good[0], bad[0]]) == 0
    async with pg.transaction():
        await (await _copier(pg, per_chunk)).copy(pg, [_lead(committed_tenant.id, rep.id), _lead(committed_tenant.id, None)])
    assert await pg.fetchval("SELECT count(*) FROM lead WHERE org_id = $1", committed_tenant.id) == 2


@pytest.mark.parametrize("per_chunk", [True, False], ids=["per-chunk", "per-row"])
async def test_an_owner_cannot_be_deleted_under_a_chunk_being_written(
        pg: asyncpg.Connection, other_pg: asyncpg.Connection, committed_tenant: Tenant, per_chunk: bool) -> None:
    rep = await committed_tenant.add_user(Role.rep)
    await committed_tenant.session.commit()
    await other_pg.execute("SET lock_timeout = '300ms'")
    delete = 'DELETE FROM "user" WHERE id = $1'
    tx = pg.transaction()
    await tx.start()
    await (await _copier(pg, per_chunk)).copy(pg, [_lead(committed_tenant.id, rep.id)])
    with pytest.raises(asyncpg.LockNotAvailableError):  # waits for the chunk, as for a per-row check
        await other_pg.execute(delete, rep.id)
    await tx.commit()
    # and then the lead keeps its owner (PostgreSQL 16+ names it a RESTRICT violation)
    with pytest.raises((asyncpg.ForeignKeyViolationError, asyncpg.RestrictViolationError)):
        await other_pg.execute(delete, rep.id)
    assert await other_pg.fetchval("SELECT count(*) FROM lead WHERE owner_id = $1", rep.id) == 1


async def test_per_chunk_checks_only_where_they_are_the_same(pg: asyncpg.Connection) -> None:
    lead = await CheckedCopy.prepare(pg, "lead", importer.LEAD_COLUMNS)
    assert lead.keys is not None
    assert {importer.LEAD_COLUMNS[k.position] for k in lead.keys} == {"org_id", "owner_id"}

    # Temporary tables: gone with the connection.
    await pg.execute("""
        CREATE TEMP TABLE parent (id int PRIMARY KEY, a int, b int, UNIQUE (a, b));
        CREATE TEMP TABLE child (id int, parent_id int REFERENCES parent, a int, b int);
        CREATE TEMP TABLE child_default (id int, parent_id int DEFAULT 1 REFERENCES parent);
        CREATE TEMP TABLE child_pair (id int, a int, b int, FOREIGN KEY (a, b) REFERENCES parent (a, b));
        CREATE TEMP TABLE child_trigger (id int, parent_id int REFERENCES parent);
        CREATE FUNCTION pg_temp.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER stamp BEFORE INSERT ON child_trigger FOR EACH ROW EXECUTE FUNCTION pg_temp.stamp();
    """)
    assert (await CheckedCopy.prepare(pg, "child", ("id", "parent_id"))).keys is not None
    assert (await CheckedCopy.prepare(pg, "child", ("id",))).keys == ()  # parent_id stays NULL
    # A key the COPY leaves out would take its default: it needs the per-row check.
    assert (await CheckedCopy.prepare(pg, "child_default", ("id",))).keys is None
    assert (await CheckedCopy.prepare(pg, "child_pair", ("id", "a", "b"))).keys is None
    # `replica` would silence the table's own trigger too.
    assert (await CheckedCopy.prepare(pg, "child_trigger", ("id", "parent_id"))).keys is None
    await pg.execute("ALTER TABLE child_trigger ENABLE ALWAYS TRIGGER stamp")
    assert (await CheckedCopy.prepare(pg, "child_trigger", ("id", "parent_id"))).keys is not None


async def test_a_role_without_the_privilege_gets_the_per_row_checks(pg: asyncpg.Connection) -> None:
    role = f"crm_import_{uuid.uuid4().hex[:8]}"
    await pg.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        async with pg.transaction():
            await pg.execute(f"SET LOCAL ROLE {role}")
            assert (await CheckedCopy.prepare(pg, "lead", COLUMNS)).keys is None
        await pg.execute(f"GRANT SET ON PARAMETER session_replication_role TO {role}")
        async with pg.transaction():
            await pg.execute(f"SET LOCAL ROLE {role}")
            assert (await CheckedCopy.prepare(pg, "lead", COLUMNS)).keys is not None
    finally:
        await pg.execute(f"REVOKE SET ON PARAMETER session_replication_role FROM {role}")
        await pg.execute(f"DROP ROLE {role}")


@pytest.mark.usefixtures("chunk_key_checks_off")
async def test_the_setting_turns_it_off(pg: asyncpg.Connection) -> None:
    assert (await CheckedCopy.prepare(pg, "lead", COLUMNS)).keys is None


@pytest.mark.usefixtures("chunk_key_checks_off")
async def test_an_import_with_per_row_checks_imports_the_same(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    rep = await tenant.add_user(Role.rep)
    csv = (f"last_name,email,owner_email\nA,a@x.example,{rep.user.email}\nB,b@x.example,\n"
           "C,a@x.example,\nD,d@x.example,nobody@x.example\n")
    h = {**tenant.admin.headers, "Content-Type": "text/csv"}
    job = (await client.post("/v1/lead-imports", content=csv.encode(), headers=h)).json()
    claimed = await importer.claim_next(app.state.db.sessionmaker, import_id=uuid.UUID(job["id"]))
    assert claimed is not None
    await importer.process(app.state.db.sessionmaker, *claimed, chunk_rows=2)
    done = (await client.get(f"/v1/lead-imports/{job['id']}", headers=h)).json()
    assert (done["status"], done["created_count"], done["duplicate_count"], done["error_count"]) == ("completed", 2, 1, 1)
    leads = {x["last_name"]: x["owner_id"] for x in (await client.get("/v1/leads", headers=h)).json()["items"]}
    assert leads == {"A": str(rep.id), "B": None}
