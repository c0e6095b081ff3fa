"""openapi/openapi.json is the published contract: it must match what the app serves."""

import json

from fastapi import FastAPI

from app.cli import render_openapi
from app.core.errors import COMMON_ERROR_STATUSES
from tests.support.database import ROOT


def test_committed_contract_is_current(app: FastAPI) -> None:
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == render_openapi(app), "openapi/openapi.json is stale: run `crm openapi`"


def test_contract_is_openapi_31_with_problem_schema(app: FastAPI) -> None:
    schema = app.openapi()
    assert schema["openapi"].startswith("3.1")
    assert "Problem" in schema["components"]["schemas"]


def test_every_api_operation_documents_its_problem_responses(app: FastAPI) -> None:
    schema = app.openapi()
    for path, item in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            documented = {int(s) for s in op["responses"] if s.isdigit()}
            missing = set(COMMON_ERROR_STATUSES) - documented
            assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
            for status in COMMON_ERROR_STATUSES:
                content = op["responses"][str(status)]["content"]
                assert "application/problem+json" in content, f"{method.upper()} {path} {status}"
            assert op["operationId"] and op.get("tags"), f"{method.upper()} {path}"


def test_operation_ids_are_unique(app: FastAPI) -> None:
    ids = [op["operationId"] for item in app.openapi()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), json.dumps(sorted(ids))
