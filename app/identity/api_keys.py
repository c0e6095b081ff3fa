"""API keys for integrations: generation, hashing, and the per-request authenticator.

A key is `crm_` + 43 url-safe characters (256 random bits). Only its SHA-256 is stored; the
first 12 characters (`prefix`) find the row and tell keys apart in listings, and the hash
is then compared in constant time.

The authenticator caches a verified key for `api_key_cache_ttl_s` (default 30 s) in each
process, so a busy integration costs one database round trip per key per half minute, not
one per request. The price: a key revoked in one process keeps working in the others for
at most that long (the revoking process forgets it at once). `last_used_at` is written on
those cache misses, and only when it is more than a minute old, so it is accurate to
about a minute and costs no write on the hot path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict

from fastapi import Request
from sqlalchemy import func, or_, select, update

from app.core.config import Settings
from app.core.errors import Unauthorized
from app.identity.models import ApiKey, Role
from app.identity.principal import Principal

API_KEY_PREFIX = "crm_"
PREFIX_LENGTH = 12
LAST_USED_RESOLUTION_S = 60


class InvalidApiKey(Unauthorized):
    code, title = "invalid-api-key", "Invalid, expired or revoked API key"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def principal_for_key(key: ApiKey) -> Principal:
    # API keys act organisation-wide; what they may do is bounded by their scopes
    # (principal.require(domain, access)), never by the role.
    return Principal(
        org_id=key.org_id, role=Role.admin, kind="api_key", api_key_id=key.id, scopes=frozenset(key.scopes)
    )


class ApiKeyAuthenticator:
    """`app.state.api_key_authenticator`: bearer API key -> Principal, with a short cache."""

    def __init__(self, settings: Settings, *, max_size: int = 10_000) -> None:
        self.ttl_s = settings.api_key_cache_ttl_s
        self.max_size = max_size
        # sha256(key) -> (principal, valid until on the monotonic clock, key id)
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self.clock = time.monotonic

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop a revoked key from this process's cache at once."""
        for digest, (principal, _) in list(self._cache.items()):
            if principal.api_key_id == key_id:
                del self._cache[digest]

    def clear(self) -> None:
        self._cache.clear()

    async def __call__(self, request: Request, token: str) -> Principal:
        digest = hash_api_key(token)
        now = self.clock()
        hit = self._cache.get(digest)
        if hit is not None:
            if now < hit[1]:
                self._cache.move_to_end(digest)
                return hit[0]
            del self._cache[digest]
        principal, expires_in = await self._lookup(request, token, digest)
        valid_for = self.ttl_s if expires_in is None else min(self.ttl_s, expires_in)
        if valid_for > 0:
            self._cache[digest] = (principal, now + valid_for)
            while len(self._cache) > self.max_size:
                self._cache.popitem(last=False)
        return principal

    async def _lookup(self, request: Request, token: str, digest: str) -> tuple[Principal, float | None]:
        if len(token) > 100:
            raise InvalidApiKey()
        # A short transaction of its own: the key's last use is recorded whatever
        # happens to the request.
        async with request.app.state.db.sessionmaker() as session:
            candidates = (
                await session.execute(
                    select(ApiKey, func.extract("epoch", ApiKey.expires_at - func.now()).label("expires_in"))
                    .where(ApiKey.prefix == token[:PREFIX_LENGTH])
                )
            ).all()
            match = next(
                ((key, expires_in) for key, expires_in in candidates if hmac.compare_digest(key.key_hash, digest)),
                None,
            )
            if match is None:
                raise InvalidApiKey()
            key, expires_in = match
            if key.revoked_at is not None or (expires_in is not None and expires_in <= 0):
                raise InvalidApiKey()
            await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key.id,
                    or_(
                        ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, LAST_USED_RESOLUTION_S),
                    ),
                )
                .values(last_used_at=func.now())
            )
            await session.commit()
            return principal_for_key(key), (float(expires_in) if expires_in is not None else None)
