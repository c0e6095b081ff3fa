"""Worker jobs of the identity domain forget what has expired, and only that."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.identity.auth_service import purge_expired_refresh_tokens
from app.identity.models import LoginThrottle, RefreshToken
from app.identity.throttle import purge_expired
from app.worker import JOBS
from tests.support.factories import Tenant


async def test_throttle_windows_that_ended_are_purged(session: AsyncSession, settings: Settings) -> None:
    now = dt.datetime.now(dt.UTC)
    old = LoginThrottle(key=f"address:old-{uuid.uuid4().hex[:6]}", failures=9,
                        window_started_at=now - dt.timedelta(seconds=settings.login_window_s + 60))
    live = LoginThrottle(key=f"address:live-{uuid.uuid4().hex[:6]}", failures=9, window_started_at=now)
    session.add_all([old, live])
    await session.flush()
    assert await purge_expired(session, settings) >= 1
    keys = set(await session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_([old.key, live.key]))))
    assert keys == {live.key}


async def test_refresh_tokens_are_purged_a_day_after_expiry(session: AsyncSession, settings: Settings,
                                                            tenant: Tenant) -> None:
    now = dt.datetime.now(dt.UTC)

    def token(expires: dt.datetime) -> RefreshToken:
        return RefreshToken(id=uuid.uuid4(), org_id=tenant.id, user_id=tenant.admin.id, family_id=uuid.uuid4(),
                            expires_at=expires)

    long_gone, just_expired, live = token(now - dt.timedelta(days=2)), token(now - dt.timedelta(hours=1)), token(
        now + dt.timedelta(days=1))
    session.add_all([long_gone, just_expired, live])
    await session.flush()
    assert await purge_expired_refresh_tokens(session, settings) >= 1
    left = set(await session.scalars(select(RefreshToken.id).where(RefreshToken.org_id == tenant.id)))
    assert left == {just_expired.id, live.id}


def test_jobs_are_registered() -> None:
    names = {name for name, _ in JOBS}
    assert {"login-throttle-purge", "refresh-token-purge"} <= names
