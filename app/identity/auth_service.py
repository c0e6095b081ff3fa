"""Sign-in, refresh-token rotation and logout.

These functions own their transaction (they take the Database, not a request session):
a failed login must still count towards throttling, and a reused refresh token must
still revoke its family, although both answer with an error that rolls the request back.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import DomainError, TooManyRequests, Unauthorized
from app.core.ids import new_id
from app.core.security import hash_password
from app.identity import throttle
from app.identity.models import RefreshToken, User
from app.identity.schemas import TokenPair
from app.identity.service import verify_password_async
from app.identity.tokens import InvalidToken, TokenCodec


class InvalidCredentials(Unauthorized):
    code, title = "invalid-credentials", "Wrong email or password"


class TooManyLoginAttempts(TooManyRequests):
    code, title = "too-many-login-attempts", "Too many failed sign-in attempts"


class RefreshTokenRevoked(Unauthorized):
    code, title = "refresh-token-revoked", "The refresh token was revoked; sign in again"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh-token-reused", "The refresh token was already used; every session of this sign-in is revoked"


MAX_PASSWORD_LENGTH = 128  # as accepted when passwords are set


@functools.cache
def _dummy_hash() -> str:
    return hash_password("never-a-real-password")


async def _issue_pair(
    session: AsyncSession, tokens: TokenCodec, user: User, *, family_id: uuid.UUID, address: str | None,
    user_agent: str | None,
) -> tuple[TokenPair, uuid.UUID]:
    token_id = new_id()
    now = await session.scalar(select(func.now()))
    expires_at = now + tokens.refresh_ttl
    session.add(RefreshToken(
        id=token_id, org_id=user.org_id, user_id=user.id, family_id=family_id, expires_at=expires_at,
        address=address[:64] if address else None, user_agent=user_agent[:300] if user_agent else None,
    ))
    access, expires_in = tokens.issue_access_token(
        user_id=user.id, org_id=user.org_id, role=user.role, team_id=user.team_id
    )
    refresh = tokens.issue_refresh_token(
        token_id=token_id, family_id=family_id, user_id=user.id, org_id=user.org_id, expires_at=expires_at
    )
    pair = TokenPair(access_token=access, expires_in=expires_in, refresh_token=refresh,
                     refresh_expires_in=int(tokens.refresh_ttl.total_seconds()))
    return pair, token_id


async def login(
    db: Database, tokens: TokenCodec, settings: Settings, *, email: str, password: str, address: str,
    user_agent: str | None,
) -> TokenPair:
    keys = throttle.limits(settings, email, address)
    async with db.sessionmaker() as session:
        wait = await throttle.seconds_blocked(session, settings, keys)
        if wait:
            error = TooManyLoginAttempts(f"Try again in {wait} seconds")
            error.headers = {"Retry-After": str(wait)}
            raise error
        user = await session.scalar(
            select(User).where(func.lower(User.email) == email.strip().lower()).with_for_update()
        )
        if len(password) > MAX_PASSWORD_LENGTH:  # no valid password is this long: spare the hashing
            ok, new_hash = False, None
        elif user is not None and user.is_active and user.password_hash:
            ok, new_hash = await verify_password_async(password, user.password_hash)
        else:
            # Same work as a real check, so response time does not reveal who has an account.
            await verify_password_async(password, _dummy_hash())
            ok, new_hash = False, None
        if not ok:
            await throttle.record_failure(session, settings, keys)
            await session.commit()
            raise InvalidCredentials()
        await throttle.clear(session, keys[0][0])
        if new_hash:  # the stored hash used weaker parameters than today's
            user.password_hash = new_hash
        user.last_login_at = await session.scalar(select(func.now()))
        pair, _ = await _issue_pair(session, tokens, user, family_id=new_id(), address=address,
                                    user_agent=user_agent)
        await session.commit()
        return pair


async def _revoke_family(session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.org_id == org_id, RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def refresh(
    db: Database, tokens: TokenCodec, *, refresh_token: str, address: str | None, user_agent: str | None,
) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same family. A
    spent token presented again means someone else holds a copy: the family is revoked."""
    claims = tokens.refresh_claims(refresh_token)
    outcome: TokenPair | DomainError
    async with db.sessionmaker() as session:
        row = await session.scalar(
            select(RefreshToken)
            .where(RefreshToken.org_id == claims.org_id, RefreshToken.id == claims.token_id)
            .with_for_update()
        )
        now = await session.scalar(select(func.now()))
        if row is None or row.user_id != claims.user_id or row.family_id != claims.family_id:
            raise InvalidToken()
        if row.revoked_at is not None:
            raise RefreshTokenRevoked()
        if row.expires_at <= now:
            raise InvalidToken()
        user = await session.scalar(
            select(User).where(User.org_id == claims.org_id, User.id == claims.user_id, User.is_active.is_(True))
        )
        if row.used_at is not None:
            await _revoke_family(session, claims.org_id, row.family_id)
            outcome = RefreshTokenReused()
        elif user is None:
            await _revoke_family(session, claims.org_id, row.family_id)
            outcome = RefreshTokenRevoked("The user was deactivated")
        else:
            # Role and team come fresh from the database: changes apply at the next refresh.
            outcome, new_token_id = await _issue_pair(session, tokens, user, family_id=row.family_id,
                                                      address=address, user_agent=user_agent)
            row.used_at = now
            row.replaced_by_id = new_token_id
        await session.commit()
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def logout(db: Database, tokens: TokenCodec, *, refresh_token: str) -> None:
    """Revoke the sign-in the refresh token belongs to (every rotation of it). Access
    tokens already issued stay valid until they expire (minutes)."""
    claims = tokens.refresh_claims(refresh_token)
    async with db.sessionmaker() as session:
        await _revoke_family(session, claims.org_id, claims.family_id)
        await session.commit()


async def purge_expired_refresh_tokens(session: AsyncSession, settings: Settings) -> int:
    """Worker job: forget refresh tokens a day after they expired (kept that long so a
    late reuse still reads as revoked rather than unknown)."""
    result = await session.execute(
        delete(RefreshToken).where(RefreshToken.expires_at < func.now() - dt.timedelta(days=1))
    )
    return result.rowcount or 0
