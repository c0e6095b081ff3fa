"""A database connection lost mid-flight answers 503 with Retry-After, and the pool heals."""

import httpx
from fastapi import APIRouter
from sqlalchemy import text

from app.core.config import Settings
from app.core.db import Database, SessionDep
from app.core.errors import problem_responses
from app.main import create_app


async def test_lost_connections_answer_503_then_recover(settings: Settings, database: Database) -> None:
    outage_settings = settings.model_copy(update={"db_pool_size": 2, "db_max_overflow": 0})
    db = Database(settings.database_url or "", outage_settings)
    app = create_app(outage_settings, db=db)
    router = APIRouter(responses=problem_responses(503))

    @router.get("/probe/backend")
    async def backend_pid(session: SessionDep) -> dict[str, int]:
        return {"pid": (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()}

    app.include_router(router)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = await c.get("/probe/backend")
            assert first.status_code == 200
            async with database.engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first.json()["pid"]})

            broken = await c.get("/probe/backend")
            assert broken.status_code == 503, broken.text
            assert broken.headers["content-type"] == "application/problem+json"
            assert broken.json()["code"] == "database-unavailable"
            assert int(broken.headers["retry-after"]) > 0

            healed = await c.get("/probe/backend")
            assert healed.status_code == 200
            assert healed.json()["pid"] != first.json()["pid"]
    finally:
        await db.dispose()
