"""One owner rule for every owned record (app/identity/owners.py), checked here over HTTP
for accounts, contacts and leads, on create and on reassignment: a rep only themselves
(403), a manager their team subtree (422 `invalid-owner` outside it, the same answer as
for an unknown user), admins and API keys anyone active in the organisation. A refused
request changes nothing."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.identity.models import Role
from tests.identity.helpers import bearer
from tests.support.crm_data import lead_body
from tests.support.factories import Actor, Tenant

_serial = itertools.count(1)


@dataclass(frozen=True)
class Kind:
    path: str  # the collection

    def body(self, owner_id: uuid.UUID | None = None) -> dict[str, Any]:
        n = next(_serial)
        body: dict[str, Any] = (
            {"name": f"Owner rule account {n}"} if self.path == "/v1/accounts"
            else {"last_name": f"Owner rule contact {n}"} if self.path == "/v1/contacts"
            # Leads: distinct email, phone and company, so no duplicate check interferes.
            else lead_body(email=f"owner-rule-{n}@example.cn", phone=f"1390000{n:04d}", company=f"Owner rule {n} Ltd")
        )
        return body | ({"owner_id": str(owner_id)} if owner_id else {})

    async def reassign(self, client: httpx.AsyncClient, record_id: str, owner_id: uuid.UUID,
                       headers: dict[str, str]) -> httpx.Response:
        if self.path == "/v1/leads":
            return await client.post(f"/v1/leads/{record_id}/assign", json={"owner_id": str(owner_id)}, headers=headers)
        return await client.patch(f"{self.path}/{record_id}", json={"owner_id": str(owner_id)}, headers=headers)


KINDS = [Kind("/v1/accounts"), Kind("/v1/contacts"), Kind("/v1/leads")]


@dataclass
class People:
    manager: Actor
    rep_east: Actor  # in the manager's team
    rep_west: Actor  # in another team
    key: dict[str, str]  # an API key's headers


@pytest.fixture
async def people(client: httpx.AsyncClient, tenant: Tenant) -> People:
    east, west = await tenant.add_team("East 华东"), await tenant.add_team("West")
    manager = await tenant.add_user(Role.manager, team=east)
    east.manager_id = manager.id
    await tenant.session.flush()
    key = await client.post("/v1/api-keys", headers=tenant.admin.headers,
                            json={"name": "ERP sync", "scopes": ["accounts:write", "leads:write"]})
    assert key.status_code == 201, key.text
    return People(manager, await tenant.add_user(Role.rep, team=east), await tenant.add_user(Role.rep, team=west),
                  bearer(key.json()["key"]))


async def _ids(client: httpx.AsyncClient, kind: Kind, tenant: Tenant) -> set[str]:
    return {r["id"] for r in (await client.get(kind.path, params={"limit": 200}, headers=tenant.admin.headers)).json()["items"]}


async def _state(client: httpx.AsyncClient, kind: Kind, record_id: str, tenant: Tenant) -> tuple[str, int]:
    record = (await client.get(f"{kind.path}/{record_id}", headers=tenant.admin.headers)).json()
    return record["owner_id"], record["version"]


def _problem(r: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in r.json().items() if k not in ("request_id", "instance")}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.path.rsplit("/", 1)[-1])
async def test_create_follows_the_owner_rule(client: httpx.AsyncClient, tenant: Tenant, people: People,
                                             kind: Kind) -> None:
    before = await _ids(client, kind, tenant)
    # A rep creates only for themselves.
    r = await client.post(kind.path, json=kind.body(people.rep_west.id), headers=people.rep_east.headers)
    assert r.status_code == 403, r.text
    assert await _ids(client, kind, tenant) == before
    own = await client.post(kind.path, json=kind.body(people.rep_east.id), headers=people.rep_east.headers)
    assert own.status_code == 201 and own.json()["owner_id"] == str(people.rep_east.id)
    # A manager within their team; outside it the same 422 as for a user who does not exist.
    r = await client.post(kind.path, json=kind.body(people.rep_east.id), headers=people.manager.headers)
    assert r.status_code == 201 and r.json()["owner_id"] == str(people.rep_east.id)
    outside = await client.post(kind.path, json=kind.body(people.rep_west.id), headers=people.manager.headers)
    unknown = await client.post(kind.path, json=kind.body(uuid.uuid4()), headers=people.manager.headers)
    assert outside.status_code == unknown.status_code == 422
    assert outside.json()["code"] == "invalid-owner" and outside.json()["errors"][0]["loc"] == ["body", "owner_id"]
    assert _problem(outside) == _problem(unknown)
    # Admins and API keys: anyone active in the organisation.
    r = await client.post(kind.path, json=kind.body(people.rep_west.id), headers=tenant.admin.headers)
    assert r.status_code == 201 and r.json()["owner_id"] == str(people.rep_west.id)
    r = await client.post(kind.path, json=kind.body(people.rep_west.id), headers=people.key)
    assert r.status_code == 201, r.text
    assert r.json()["owner_id"] == str(people.rep_west.id)
    people.rep_west.user.is_active = False
    await tenant.session.flush()
    r = await client.post(kind.path, json=kind.body(people.rep_west.id), headers=tenant.admin.headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid-owner"
    assert len(await _ids(client, kind, tenant) - before) == 4  # the rep's own, the manager's, admin's, key's


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.path.rsplit("/", 1)[-1])
async def test_reassignment_follows_the_owner_rule(client: httpx.AsyncClient, tenant: Tenant, people: People,
                                                   kind: Kind) -> None:
    record = (await client.post(kind.path, json=kind.body(), headers=people.rep_east.headers)).json()
    assert record["owner_id"] == str(people.rep_east.id)
    start = await _state(client, kind, record["id"], tenant)
    # A rep cannot hand their record to someone else; nothing changes.
    r = await kind.reassign(client, record["id"], people.rep_west.id, people.rep_east.headers)
    assert r.status_code == 403, r.text
    assert await _state(client, kind, record["id"], tenant) == start
    # A manager cannot move it out of the team, nor to an unknown user (one answer for both).
    outside = await kind.reassign(client, record["id"], people.rep_west.id, people.manager.headers)
    unknown = await kind.reassign(client, record["id"], uuid.uuid4(), people.manager.headers)
    assert outside.status_code == unknown.status_code == 422 and _problem(outside) == _problem(unknown)
    assert await _state(client, kind, record["id"], tenant) == start
    # ... but within it.
    r = await kind.reassign(client, record["id"], people.manager.id, people.manager.headers)
    assert r.status_code == 200 and r.json()["owner_id"] == str(people.manager.id)
    # Admins and API keys anywhere in the organisation.
    r = await kind.reassign(client, record["id"], people.rep_west.id, tenant.admin.headers)
    assert r.status_code == 200 and r.json()["owner_id"] == str(people.rep_west.id)
    r = await kind.reassign(client, record["id"], people.rep_east.id, people.key)
    assert r.status_code == 200 and r.json()["owner_id"] == str(people.rep_east.id)
    assert (await _state(client, kind, record["id"], tenant))[0] == str(people.rep_east.id)
