"""Every accounts/contacts endpoint that takes an id answers another organisation 404."""

from __future__ import annotations

import uuid

import httpx

from tests.support.cross_tenant import IdEndpoint, assert_cross_tenant_404
from tests.support.factories import Tenant

ENDPOINTS: list[IdEndpoint] = [
    IdEndpoint("GET", "/v1/accounts/{id}"),
    IdEndpoint("PATCH", "/v1/accounts/{id}", json={"tier": "hijacked"}),
    IdEndpoint("DELETE", "/v1/accounts/{id}"),
    IdEndpoint("GET", "/v1/accounts/{id}/timeline"),
    IdEndpoint("GET", "/v1/contacts/{id}"),
    IdEndpoint("PATCH", "/v1/contacts/{id}", json={"title": "hijacked"}),
    IdEndpoint("DELETE", "/v1/contacts/{id}"),
    IdEndpoint("GET", "/v1/contacts/{id}/personal-data"),
    IdEndpoint("POST", "/v1/contacts/{id}/erase"),
]


async def test_accounts_endpoints_hide_other_organisations(client: httpx.AsyncClient, tenant: Tenant,
                                                           other_tenant: Tenant) -> None:
    h = tenant.admin.headers
    account = (await client.post("/v1/accounts", json={"name": "Acme"}, headers=h)).json()
    contact = (await client.post("/v1/contacts", json={"last_name": "李", "account_id": account["id"],
                                                       "email": "li@acme.example"}, headers=h)).json()

    async def snapshot() -> list:
        return [(await client.get(f"/v1/accounts/{account['id']}", headers=h)).json(),
                (await client.get(f"/v1/contacts/{contact['id']}", headers=h)).json()]

    for record_id, prefix in ((account["id"], "/v1/accounts/"), (contact["id"], "/v1/contacts/")):
        await assert_cross_tenant_404(client, record_id=uuid.UUID(record_id), intruder_headers=other_tenant.admin.headers,
                                      endpoints=[e for e in ENDPOINTS if e.path.startswith(prefix)], snapshot=snapshot)
