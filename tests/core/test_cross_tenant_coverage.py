"""Every /v1 route with a path parameter is covered by some domain's cross-tenant test.

Each `tests/*/test_cross_tenant.py` lists its routes in `ENDPOINTS` (see
tests/support/cross_tenant.py for the convention). A new route that takes an id and is
not listed fails here, naming the method and template.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fastapi import FastAPI

from tests.support.cross_tenant import IdEndpoint, route_key
from tests.support.database import ROOT


def cross_tenant_modules() -> list[ModuleType]:
    paths = sorted((ROOT / "tests").glob("**/test_cross_tenant.py"))
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths]
    return [importlib.import_module(name) for name in names]


HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def routes_with_ids(app: FastAPI) -> dict[tuple[str, str], str]:
    """(METHOD, normalised template) -> "METHOD template" for /v1 routes taking a path
    parameter. Read from the OpenAPI document: it lists every routed operation, however
    the routers are nested."""
    found = {}
    for path, item in app.openapi()["paths"].items():
        if path.startswith("/v1/") and "{" in path:
            for method in HTTP_METHODS & set(item):
                found[route_key(method, path)] = f"{method.upper()} {path}"
    return found


def test_the_convention_is_found() -> None:
    modules = {m.__name__ for m in cross_tenant_modules()}
    assert "tests.identity.test_cross_tenant" in modules


def test_every_route_taking_an_id_is_covered_by_a_cross_tenant_test(app: FastAPI) -> None:
    covered: dict[tuple[str, str], str] = {}
    exempt: set[tuple[str, str]] = set()
    for module in cross_tenant_modules():
        endpoints = getattr(module, "ENDPOINTS", None)
        assert isinstance(endpoints, list) and all(isinstance(e, IdEndpoint) for e in endpoints), (
            f"{module.__name__} must define ENDPOINTS: list[IdEndpoint]"
        )
        for endpoint in endpoints:
            covered[endpoint.key] = f"{module.__name__}: {endpoint}"
        for spec, reason in getattr(module, "EXEMPT", {}).items():
            method, _, path = spec.partition(" ")
            assert reason.strip(), f"{module.__name__}: EXEMPT[{spec!r}] needs a reason"
            exempt.add(route_key(method, path))

    routes = routes_with_ids(app)
    missing = sorted(text for key, text in routes.items() if key not in covered and key not in exempt)
    assert not missing, (
        "Routes taking an id without a cross-tenant test (add them to ENDPOINTS in "
        "tests/<domain>/test_cross_tenant.py):\n  " + "\n  ".join(missing)
    )
    stale = sorted(where for key, where in covered.items() if key not in routes)
    assert not stale, "ENDPOINTS entries that match no route:\n  " + "\n  ".join(stale)


def test_matching_ignores_parameter_names() -> None:
    assert route_key("get", "/v1/users/{user_id}") == route_key("GET", "/v1/users/{id}")
    assert route_key("POST", "/v1/a/{id}/b/{b_id}") == route_key("POST", "/v1/a/{x}/b/{y}")
    assert route_key("GET", "/v1/users/{id}") != route_key("PATCH", "/v1/users/{id}")
    assert route_key("GET", "/v1/users/{id}/password") != route_key("GET", "/v1/users/{id}")
