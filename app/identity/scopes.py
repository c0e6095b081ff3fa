"""API key scopes: `<domain>:read` or `<domain>:write` (write implies read), or
`*:read` / `*:write` for every domain. A domain checks them with
`principal.require("<domain>", "read" | "write")`; a new domain adds its name here so
keys can be granted it."""

from __future__ import annotations

import re

SCOPE_DOMAINS: tuple[str, ...] = (
    "accounts",
    "activities",
    "analytics",
    "audit",
    "contacts",
    "events",
    "feedback",
    "leads",
    "opportunities",
    "pipelines",
    "products",
    "quotes",
    "teams",
    "users",
    "webhooks",
)
_SCOPE = re.compile(r"^(?P<domain>\*|[a-z_]+):(?P<access>read|write)$")


def invalid_scopes(scopes: list[str]) -> list[str]:
    """The scopes in the list that are not `<known domain or *>:<read|write>`."""
    bad = []
    for scope in scopes:
        m = _SCOPE.match(scope)
        if m is None or (m["domain"] != "*" and m["domain"] not in SCOPE_DOMAINS):
            bad.append(scope)
    return bad
