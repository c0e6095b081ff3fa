"""Failed-login throttling per account and per client address, kept in PostgreSQL so
every API process sees the same counts.

A fixed window per key: the first failure opens it, each failure counts, and once a key
reaches its limit every attempt (even with the right password) answers 429 until the
window ends. Callers write these rows in a transaction of their own, committed before
the failed login answers 401, so the count is not rolled back with the request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.identity.models import LoginThrottle


def account_key(email: str) -> str:
    # Hashed: the table must not become a list of every email anyone typed.
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:64]


def address_key(address: str) -> str:
    return "address:" + address[:64]


def limits(settings: Settings, email: str, address: str) -> list[tuple[str, int]]:
    return [
        (account_key(email), settings.login_max_failures),
        (address_key(address), settings.login_max_failures_per_address),
    ]


def _window(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.login_window_s)


async def seconds_blocked(session: AsyncSession, settings: Settings, keys: Sequence[tuple[str, int]]) -> int:
    """0 when a login may be attempted, else how many seconds until it may."""
    limit_of = dict(keys)
    window = _window(settings)
    rows = (
        await session.execute(
            select(
                LoginThrottle.key,
                LoginThrottle.failures,
                func.extract("epoch", LoginThrottle.window_started_at + window - func.now()),
            ).where(LoginThrottle.key.in_(limit_of), LoginThrottle.window_started_at > func.now() - window)
        )
    ).all()
    waits = [int(remaining) + 1 for key, failures, remaining in rows if failures >= limit_of[key]]
    return max(waits, default=0)


async def record_failure(session: AsyncSession, settings: Settings, keys: Sequence[tuple[str, int]]) -> None:
    window = _window(settings)
    expired = LoginThrottle.window_started_at <= func.now() - window
    for key, _ in keys:
        await session.execute(
            pg_insert(LoginThrottle)
            .values(key=key, failures=1, window_started_at=func.now(), last_failure_at=func.now())
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                    "window_started_at": case((expired, func.now()), else_=LoginThrottle.window_started_at),
                    "last_failure_at": func.now(),
                },
            )
        )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def purge_expired(session: AsyncSession, settings: Settings) -> int:
    """Worker job: drop counters whose window has ended."""
    result = await session.execute(
        delete(LoginThrottle).where(LoginThrottle.window_started_at <= func.now() - _window(settings))
    )
    return result.rowcount or 0
