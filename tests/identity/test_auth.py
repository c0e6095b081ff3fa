"""Sign-in, tokens, refresh rotation, logout, rehashing and throttling, over HTTP."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.identity.models import LoginThrottle, RefreshToken, Role, User
from app.identity.throttle import account_key, address_key
from tests.identity.helpers import bearer, sign_in, tokens_for
from tests.support.factories import (
    TEST_PASSWORD,
    Tenant,
    create_tenant,
    known_password_hash,
    unique_email,
)

KEY_ID, KEY = "test-key", "test-signing-key-with-enough-entropy-0123456789"


async def test_sign_in_returns_tokens_that_work(client: httpx.AsyncClient, tenant: Tenant) -> None:
    pair = await tokens_for(client, tenant.admin.user.email)
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    header = jwt.get_unverified_header(pair["access_token"])
    assert header == {"alg": "HS256", "kid": KEY_ID, "typ": "at+jwt"}
    claims = jwt.decode(pair["access_token"], KEY, algorithms=["HS256"], audience="crm-pipeline-api")
    assert claims["iss"] == "crm-pipeline" and claims["sub"] == str(tenant.admin.id)
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(pair["refresh_token"])["typ"] == "rt+jwt"

    me = await client.get("/v1/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["email"] == tenant.admin.user.email
    assert me.json()["org"]["id"] == str(tenant.id)


async def test_sign_in_is_case_insensitive_on_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await sign_in(client, tenant.admin.user.email.upper())
    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_read_the_same(client: httpx.AsyncClient, tenant: Tenant) -> None:
    wrong = await sign_in(client, tenant.admin.user.email, "not the password")
    unknown = await sign_in(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid-credentials"
    assert wrong.json().get("detail") == unknown.json().get("detail")


async def test_user_without_password_or_deactivated_cannot_sign_in(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    no_password = await tenant.add_user(Role.rep)
    assert (await sign_in(client, no_password.user.email)).status_code == 401
    gone = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    gone.user.is_active = False
    await session.flush()
    assert (await sign_in(client, gone.user.email)).status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await tokens_for(client, tenant.admin.user.email)
    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (await client.get("/v1/me", headers=bearer(rotated["access_token"]))).status_code == 200

    # The spent token comes back: someone holds a copy. Refused, and the family is dead.
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and replay.json()["code"] == "refresh-token-reused"
    after = await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401 and after.json()["code"] == "refresh-token-revoked"


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    pair = await tokens_for(client, tenant.admin.user.email)
    other_device = await tokens_for(client, tenant.admin.user.email)
    out = await client.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 204
    refused = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refused.status_code == 401 and refused.json()["code"] == "refresh-token-revoked"
    # Only that sign-in ends: another device keeps its session.
    still = await client.post("/v1/auth/refresh", json={"refresh_token": other_device["refresh_token"]})
    assert still.status_code == 200


async def test_refresh_picks_up_role_changes(client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    pair = await tokens_for(client, rep.user.email)
    rep.user.role = Role.manager
    await session.flush()
    new = (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    me = await client.get("/v1/me", headers=bearer(new["access_token"]))
    assert me.json()["user"]["role"] == "manager"
    assert jwt.decode(new["access_token"], options={"verify_signature": False})["role"] == "manager"


async def test_deactivation_ends_refresh(client: httpx.AsyncClient, tenant: Tenant) -> None:
    rep = await tenant.add_user(Role.rep, password_hash=known_password_hash())
    pair = await tokens_for(client, rep.user.email)
    gone = await client.delete(f"/v1/users/{rep.id}", headers=tenant.admin.headers)
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    refused = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refused.status_code == 401


async def test_a_refresh_token_is_not_an_access_token_nor_the_reverse(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    pair = await tokens_for(client, tenant.admin.user.email)
    as_access = await client.get("/v1/me", headers=bearer(pair["refresh_token"]))
    assert as_access.status_code == 401 and as_access.json()["code"] == "invalid-token"
    as_refresh = await client.post("/v1/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert as_refresh.status_code == 401


def _claims(tenant: Tenant, **over: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": "crm-pipeline", "aud": "crm-pipeline-api", "sub": str(tenant.admin.id), "org": str(tenant.id),
        "role": "admin", "team": None, "typ": "at+jwt", "iat": now, "nbf": now,
        "exp": now + dt.timedelta(minutes=5), "jti": str(uuid.uuid4()),
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not ...}


def _sign(claims: dict[str, object], *, key: str = KEY, kid: str = KEY_ID, typ: str = "at+jwt",
          alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": typ})


def _alg_none(claims: dict[str, object]) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": KEY_ID, "typ": "at+jwt"})


def _tampered(token: str) -> str:
    head, body, sig = token.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b'"role":"rep"', b'"role":"admin"')
    ).decode()
    return f"{head}.{forged}.{sig}"


BAD_TOKENS = {
    "expired": lambda t: _sign(_claims(t, exp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                                       iat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20),
                                       nbf=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20))),
    "wrong audience": lambda t: _sign(_claims(t, aud="someone-else")),
    "wrong issuer": lambda t: _sign(_claims(t, iss="evil")),
    "alg none": lambda t: _alg_none(_claims(t)),
    "wrong key": lambda t: _sign(_claims(t), key="another-key-of-the-same-length-0123456789abc"),
    "unknown kid": lambda t: _sign(_claims(t), kid="other"),
    "refresh typ in header": lambda t: _sign(_claims(t), typ="rt+jwt"),
    "typ claim missing": lambda t: _sign(_claims(t, typ=...)),
    "no expiry": lambda t: _sign(_claims(t, exp=...)),
    "tampered payload": lambda t: _tampered(_sign(_claims(t, role="rep"))),
    "not a jwt": lambda t: "definitely.not.ajwt",
    "HS512": lambda t: _sign(_claims(t), alg="HS512"),
}


@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_bad_access_tokens_are_refused(client: httpx.AsyncClient, tenant: Tenant, kind: str) -> None:
    response = await client.get("/v1/me", headers=bearer(BAD_TOKENS[kind](tenant)))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_well_formed_token_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # The control for the refusals above: the same recipe with nothing wrong works.
    assert (await client.get("/v1/me", headers=bearer(_sign(_claims(tenant))))).status_code == 200


async def test_missing_bearer_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


async def test_weak_hash_is_upgraded_on_sign_in(client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession) -> None:
    weak = PasswordHash((Argon2Hasher(memory_cost=8 * 1024, time_cost=1, parallelism=1),)).hash(TEST_PASSWORD)
    rep = await tenant.add_user(Role.rep, password_hash=weak)
    await tokens_for(client, rep.user.email)
    stored = await session.scalar(select(User.password_hash).where(User.id == rep.id))
    assert stored != weak and stored.startswith("$argon2id$") and "m=19456,t=2" in stored
    assert (await sign_in(client, rep.user.email)).status_code == 200


async def test_stored_hashes_meet_the_owasp_baseline(client: httpx.AsyncClient, tenant: Tenant,
                                                      session: AsyncSession) -> None:
    created = await client.post("/v1/users", headers=tenant.admin.headers, json={
        "email": unique_email(), "full_name": "New Rep", "role": "rep", "password": "a long enough password"})
    assert created.status_code == 201, created.text
    stored = await session.scalar(select(User.password_hash).where(User.id == uuid.UUID(created.json()["id"])))
    assert stored.startswith("$argon2id$") and "m=19456,t=2,p=1" in stored


# Throttling runs on real commits: the point is that the count survives the failed
# request's rollback. Each test uses its own client address and cleans up its rows.


def _client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _forget_throttle(database: Database, *keys: str) -> None:
    async with database.sessionmaker() as s, s.begin():
        await s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


async def test_failed_logins_are_throttled_per_account(committed_app: FastAPI, database: Database,
                                                       committed_tenant: Tenant) -> None:
    email = committed_tenant.admin.user.email
    address = "10.9.8.7"
    try:
        async with _client_from(committed_app, address) as c:
            for _ in range(5):
                assert (await sign_in(c, email, "wrong password!")).status_code == 401
            locked = await sign_in(c, email)  # even the right password, while locked
            assert locked.status_code == 429, locked.text
            assert locked.json()["code"] == "too-many-login-attempts"
            assert 0 < int(locked.headers["retry-after"]) <= 901
        # The lock is on the account, wherever the next attempt comes from.
        async with _client_from(committed_app, "10.9.8.6") as c:
            assert (await sign_in(c, email)).status_code == 429
        async with database.sessionmaker() as s:
            row = await s.get(LoginThrottle, account_key(email))
            assert row is not None and row.failures == 5
    finally:
        await _forget_throttle(database, account_key(email), address_key(address), address_key("10.9.8.6"))
        await _drop_org(database, committed_tenant)


async def test_failed_logins_are_throttled_per_address(committed_app: FastAPI, database: Database,
                                                       committed_tenant: Tenant) -> None:
    address = "10.9.8.5"
    limit = committed_app.state.settings.login_max_failures_per_address
    emails = [f"guess-{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(limit)]
    try:
        async with _client_from(committed_app, address) as c:
            for email in emails:  # one failure per account: only the address limit applies
                assert (await sign_in(c, email, "wrong password!")).status_code == 401
            blocked = await sign_in(c, committed_tenant.admin.user.email)
            assert blocked.status_code == 429
        async with _client_from(committed_app, "10.9.8.4") as c:
            assert (await sign_in(c, committed_tenant.admin.user.email)).status_code == 200
    finally:
        await _forget_throttle(database, address_key(address), address_key("10.9.8.4"),
                               *(account_key(e) for e in emails))
        await _drop_org(database, committed_tenant)


async def test_success_clears_the_account_counter(committed_app: FastAPI, database: Database,
                                                  committed_tenant: Tenant) -> None:
    email, address = committed_tenant.admin.user.email, "10.9.8.3"
    try:
        async with _client_from(committed_app, address) as c:
            for _ in range(4):
                assert (await sign_in(c, email, "wrong password!")).status_code == 401
            assert (await sign_in(c, email)).status_code == 200
            for _ in range(4):
                assert (await sign_in(c, email, "wrong password!")).status_code == 401
            assert (await sign_in(c, email)).status_code == 200
    finally:
        await _forget_throttle(database, account_key(email), address_key(address))
        await _drop_org(database, committed_tenant)


async def _drop_org(database: Database, tenant: Tenant) -> None:
    from app.identity.models import Org

    async with database.sessionmaker() as s, s.begin():
        await s.execute(update(User).where(User.org_id == tenant.id).values(team_id=None))
        await s.execute(delete(RefreshToken).where(RefreshToken.org_id == tenant.id))
        await s.execute(delete(Org).where(Org.id == tenant.id))


async def test_concurrent_refresh_of_one_token_lets_one_win(committed_app: FastAPI, database: Database) -> None:
    import asyncio

    async with database.sessionmaker() as s:
        tenant = await create_tenant(committed_app, s, "Refresh race")
        await s.commit()
    try:
        async with _client_from(committed_app, "10.9.8.2") as c:
            pair = await tokens_for(c, tenant.admin.user.email)
            results = await asyncio.gather(*(
                c.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}) for _ in range(4)
            ))
        assert sorted(r.status_code for r in results) == [200, 401, 401, 401]
    finally:
        await _drop_org(database, tenant)


async def test_garbage_and_expired_refresh_tokens_are_refused(client: httpx.AsyncClient, tenant: Tenant,
                                                               app: FastAPI) -> None:
    expired = app.state.tokens.issue_refresh_token(
        token_id=uuid.uuid4(), family_id=uuid.uuid4(), user_id=tenant.admin.id, org_id=tenant.id,
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    )
    unknown = app.state.tokens.issue_refresh_token(
        token_id=uuid.uuid4(), family_id=uuid.uuid4(), user_id=tenant.admin.id, org_id=tenant.id,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    for token in (expired, unknown, "garbage", "a.b.c"):
        for path in ("/v1/auth/refresh", "/v1/auth/logout"):
            response = await client.post(path, json={"refresh_token": token})
            if path.endswith("logout") and token is unknown:
                assert response.status_code == 204  # a genuine but unknown sign-in: nothing to revoke
            else:
                assert response.status_code == 401, (path, token, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_absurdly_long_password_is_just_wrong(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await sign_in(client, tenant.admin.user.email, "x" * 100_000)
    assert response.status_code == 401 and response.json()["code"] == "invalid-credentials"


async def test_sign_in_responses_are_never_stored_for_replay(client: httpx.AsyncClient, tenant: Tenant,
                                                             session: AsyncSession) -> None:
    from sqlalchemy import text

    headers = {**tenant.admin.headers, "Idempotency-Key": "k1"}
    first = await client.post("/v1/auth/token", headers=headers,
                              data={"username": tenant.admin.user.email, "password": TEST_PASSWORD})
    second = await client.post("/v1/auth/token", headers=headers,
                               data={"username": tenant.admin.user.email, "password": TEST_PASSWORD})
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] != second.json()["refresh_token"]
    stored = await session.scalar(text("SELECT count(*) FROM idempotency_record WHERE org_id = :o"),
                                  {"o": tenant.id})
    assert stored == 0
