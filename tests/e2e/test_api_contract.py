"""Schemathesis against a live server: generated requests (valid and invalid) for every
operation in the contract; no 5xx, and every status, content type and body matches
what openapi.json documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.db import Database
from app.identity.tokens import TokenCodec
from tests.e2e.test_embedded_server import _free_port, _stop, _wait_ready
from tests.support.database import ROOT, run_sync
from tests.support.factories import create_tenant

pytestmark = pytest.mark.e2e

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])
# The operations of the leads/accounts/activities domains; the rest of the API is the other half.
LEADS_AND_CUSTOMERS = r"^/v1/(leads|lead-|accounts|contacts|activities|tasks)"
JWT_KEYS = {"contract": "contract-test-signing-key-0123456789abcdef"}


async def _admin_token(url: str) -> str:
    settings = Settings(database_url=url, jwt_keys=JWT_KEYS)
    db = Database(url, settings)
    try:
        from app.main import create_app

        app = create_app(settings, db=db)
        async with db.sessionmaker() as session:
            tenant = await create_tenant(app, session, "Contract Test Org")
            await session.commit()
        token, _ = TokenCodec(settings).issue_access_token(
            user_id=tenant.admin.id, org_id=tenant.id, role=tenant.admin.user.role, team_id=None
        )
        return token
    finally:
        await db.dispose()


def test_live_api_conforms_to_its_contract(pg_server: str, database_url: str, tmp_path: Path) -> None:
    token = run_sync(_admin_token(database_url))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(DATABASE_URL=database_url, CRM_JWT_KEYS=json.dumps(JWT_KEYS), CRM_LOG_LEVEL="WARNING",
               CRM_DATA_DIR=str(tmp_path))
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_ready(port, server)
        # Two schemathesis processes, one per half of the API, side by side: the same
        # parallelism as two worker threads, without hypothesis parsing code in two
        # threads at once (a CPython 3.11 race: "AST constructor recursion depth mismatch").
        runs = [
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "schemathesis"), "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks", CHECKS,
                    "--phases", "examples,coverage,fuzzing",
                    "--max-examples", "25",
                    "--workers", "1",
                    f"--{side}-path-regex", LEADS_AND_CUSTOMERS,
                    "--header", f"Authorization: Bearer {token}",
                    "--seed", "20261123",
                    "--suppress-health-check", "all",
                ],
                cwd=tmp_path, env=env, stdout=(tmp_path / f"{side}.log").open("w"), stderr=subprocess.STDOUT,
            )
            for side in ("include", "exclude")
        ]
        codes = [run.wait(timeout=600) for run in runs]
    finally:
        _stop(server)
    for side, code in zip(("include", "exclude"), codes, strict=True):
        assert code == 0, (tmp_path / f"{side}.log").read_text()[-8000:]
