"""Every failure is an RFC 9457 problem: framework errors, validation, oversized bodies."""

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from app.core.config import Settings
from app.core.errors import Conflict, problem_responses
from app.main import create_app

PROBLEM = "application/problem+json"


class Widget(BaseModel):
    name: str = Field(min_length=1)
    amount: int = Field(ge=0)


@pytest.fixture(scope="module")
def probe_app(settings: Settings) -> FastAPI:
    """The real app plus one probe route that takes a body and can raise a domain error."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    router = APIRouter(responses=problem_responses(400, 409, 413, 422))

    @router.post("/probe/widgets")
    async def create_widget(body: Widget) -> Widget:
        if body.name == "taken":
            raise Conflict("A widget with that name exists", existing="w-1")
        return body

    app.include_router(router)
    return app


@pytest.fixture
async def probe(probe_app: FastAPI) -> httpx.AsyncClient:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_app), base_url="http://t") as c:
        yield c


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    return body


async def test_unknown_route_is_404_problem(probe: httpx.AsyncClient) -> None:
    body = assert_problem(await probe.get("/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/v1/nothing-here"


async def test_wrong_method_is_405_problem(probe: httpx.AsyncClient) -> None:
    r = await probe.delete("/healthz")
    assert_problem(r, 405, "method-not-allowed")
    assert "GET" in r.headers["allow"]


async def test_malformed_json_is_400(probe: httpx.AsyncClient) -> None:
    r = await probe.post("/probe/widgets", content=b'{"name": "x",', headers={"content-type": "application/json"})
    assert_problem(r, 400, "malformed-body")


async def test_validation_errors_name_the_fields(probe: httpx.AsyncClient) -> None:
    r = await probe.post("/probe/widgets", json={"name": "", "amount": -1})
    body = assert_problem(r, 422, "validation-error")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert locs == {("body", "name"), ("body", "amount")}
    assert all(e["msg"] and e["type"] for e in body["errors"])


async def test_domain_error_carries_extra_members(probe: httpx.AsyncClient) -> None:
    body = assert_problem(await probe.post("/probe/widgets", json={"name": "taken", "amount": 1}), 409, "conflict")
    assert body["detail"] == "A widget with that name exists"
    assert body["existing"] == "w-1"


async def test_oversized_body_is_413(probe: httpx.AsyncClient) -> None:
    r = await probe.post("/probe/widgets", json={"name": "x" * 5000, "amount": 1})
    assert_problem(r, 413, "payload-too-large")


async def test_oversized_streamed_body_without_length_is_413(probe: httpx.AsyncClient) -> None:
    async def chunks():
        for _ in range(10):
            yield b"x" * 512

    r = await probe.post("/probe/widgets", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(r, 413, "payload-too-large")


async def test_good_request_passes(probe: httpx.AsyncClient) -> None:
    r = await probe.post("/probe/widgets", json={"name": "公司", "amount": 3})
    assert r.status_code == 200
    assert r.json() == {"name": "公司", "amount": 3}
