import httpx
import pytest

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.support import database as testdb


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_checks_database_and_migrations(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok", "migrations": "head"}


async def test_readyz_is_503_when_schema_is_not_migrated(pg_server: str, settings: Settings) -> None:
    name, url = testdb.create_test_database(pg_server)  # empty: never migrated
    db = Database(url, settings)
    try:
        app = create_app(settings, db=db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"]
        assert "migrations" in r.json()["detail"]
    finally:
        await db.dispose()
        testdb.drop_test_database(pg_server, name)


async def test_readyz_is_503_when_database_is_unreachable(settings: Settings) -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/nowhere", settings)
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    await db.dispose()
    assert r.status_code == 503
    assert r.json()["code"] == "not-ready"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/route")
    body = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in body
    # Unknown paths are folded into one label instead of exploding cardinality.
    assert 'route="unmatched",status="404"' in body
    assert "http_request_duration_seconds_bucket" in body


async def test_docs_are_served_offline_from_installed_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "/docs-assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html.replace("https://crm-pipeline.dev", "")
    js = await client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    css = await client.get("/docs-assets/swagger-ui.css")
    assert css.status_code == 200
    redoc = await client.get("/redoc")
    assert "/docs-assets/redoc.standalone.js" in redoc.text
    assert (await client.get("/docs-assets/redoc.standalone.js")).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/no/such/route"])
async def test_every_response_has_a_request_id(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert len(r.headers["x-request-id"]) >= 32


async def test_request_id_is_echoed_when_client_sends_one(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/route", headers={"X-Request-ID": "client-abc.123"})
    assert r.headers["x-request-id"] == "client-abc.123"
    assert r.json()["request_id"] == "client-abc.123"


async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
