"""Tenants are born through create_org: from the CLI (`crm create-org`) and the demo seed."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEntry
from app.core.db import Database
from app.identity.models import Org, User
from app.seed import DEMO_PASSWORD, seed_demo
from tests.identity.helpers import sign_in, tokens_for
from tests.support.cli import crm


async def test_create_org_from_the_cli_prints_a_strong_password(
    database_url: str, database: Database, committed_client: httpx.AsyncClient
) -> None:
    """The real command in a process of its own: the password goes to stdout alone."""
    email = f"founder-{uuid.uuid4().hex[:8]}@example.com"
    result = crm(database_url, "create-org", "CLI Org 云端公司", "--admin-email", email)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        password = result.stdout.strip()
        assert len(password) >= 20 and " " not in password and "\n" not in password
        pair = await tokens_for(committed_client, email, password)
        me = (await committed_client.get("/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})).json()
        assert me["org"]["name"] == "CLI Org 云端公司" and me["user"]["role"] == "admin"
    finally:
        await _drop_orgs_of(database, email)


async def test_create_org_with_a_given_password_and_refusals(
    database_url: str, database: Database, committed_client: httpx.AsyncClient, monkeypatch
) -> None:
    """The same command in-process (Typer's runner, in a thread: it runs its own loop)."""
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return asyncio.to_thread(runner.invoke, cli, ["create-org", *args])

    email = f"founder-{uuid.uuid4().hex[:8]}@example.com"
    try:
        given = await invoke("Given", "--admin-email", email, "--admin-password", "chosen password 1")
        assert given.exit_code == 0, given.output
        assert "chosen password 1" not in given.output
        assert (await sign_in(committed_client, email, "chosen password 1")).status_code == 200

        twice = await invoke("Twice", "--admin-email", email.upper())
        assert twice.exit_code == 1 and "already exists" in twice.output
        short = await invoke("Short", "--admin-email", "x" + email, "--admin-password", "short")
        assert short.exit_code == 1 and "at least 10" in short.output
    finally:
        get_settings.cache_clear()
        await _drop_orgs_of(database, email)


async def _drop_orgs_of(database: Database, email: str) -> None:
    async with database.sessionmaker() as s, s.begin():
        await s.execute(delete(Org).where(Org.id.in_(select(User.org_id).where(User.email == email))))


async def test_demo_seed_goes_through_create_org(app: FastAPI, client: httpx.AsyncClient,
                                                 session: AsyncSession) -> None:
    demo = await seed_demo(session)
    assert (await sign_in(client, demo.admin_email, DEMO_PASSWORD)).status_code == 200
    assert (await sign_in(client, "rep.chen@demo.example", DEMO_PASSWORD)).status_code == 200
    created = await session.scalar(select(AuditEntry).where(AuditEntry.org_id == demo.org_id,
                                                            AuditEntry.entity_type == "org"))
    assert created is not None and created.actor_kind == "system"
