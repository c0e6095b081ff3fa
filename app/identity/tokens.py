"""Access and refresh tokens: JWTs following RFC 8725 (explicit algorithm, issuer,
audience, expiry, key id, and an explicit token type in the header and the claims, so a
refresh token is never accepted as an access token nor the reverse).

Access tokens are verified locally (no database round trip) and the verified result is
kept in a bounded LRU keyed by the token string until the token expires, so a client
sending the same token on every request pays for the HMAC and JSON parsing once.
Refresh tokens are checked against their database row (rotation, revocation).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from app.core.config import Settings
from app.core.errors import Unauthorized
from app.core.ids import new_id
from app.identity.models import Role
from app.identity.principal import Principal

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 media type, in the header and the claims
REFRESH_TOKEN_TYPE = "rt+jwt"  # ours; distinct so neither token passes for the other
LEEWAY_S = 5  # clock skew tolerated between API processes


class InvalidToken(Unauthorized):
    code, title = "invalid-token", "Invalid or expired token"


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    token_id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    org_id: uuid.UUID


class TokenCache:
    """A bounded LRU of verified access tokens: token -> (principal, expiry as epoch s)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str, now: float) -> Principal | None:
        hit = self._items.get(token)
        if hit is None:
            return None
        principal, expires = hit
        if now >= expires:
            del self._items[token]
            return None
        self._items.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, expires: float) -> None:
        if self.max_size <= 0:
            return
        self._items[token] = (principal, expires)
        self._items.move_to_end(token)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _peek_header(token: str) -> dict[str, Any]:
    """The JOSE header, unverified, to pick the key. Parsed here because PyJWT's own
    parser validates base64 character by character and would do it a second time in
    decode(); the signature check below covers the header anyway."""
    segment = token.split(".", 1)[0]
    if len(segment) > 512:
        raise InvalidToken()
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise InvalidToken()
    return header


class TokenCodec:
    """Signs and verifies tokens with the configured key ring; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self.keys = settings.signing_keys()
        self.signing_kid = next(iter(self.keys))
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = dt.timedelta(seconds=settings.access_token_ttl_s)
        self.refresh_ttl = dt.timedelta(seconds=settings.refresh_token_ttl_s)
        self.cache = TokenCache(settings.token_cache_size)

    def _encode(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode(
            {**claims, "iss": self.issuer, "aud": self.audience, "typ": typ},
            self.keys[self.signing_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.signing_kid, "typ": typ},
        )

    def _decode(self, token: str, typ: str) -> dict[str, Any]:
        """Verify signature, algorithm, key id, type, issuer, audience and times."""
        try:
            header = _peek_header(token)
            key = self.keys.get(str(header.get("kid", "")))
            if key is None or header.get("typ") != typ or header.get("alg") != ALGORITHM:
                raise InvalidToken()
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],  # never taken from the token (no alg=none, no RS/HS confusion)
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError, binascii.Error) as exc:
            raise InvalidToken() from exc
        if claims.get("typ") != typ:
            raise InvalidToken()
        return claims

    # Access tokens ---------------------------------------------------------------------

    def issue_access_token(
        self, *, user_id: uuid.UUID, org_id: uuid.UUID, role: Role, team_id: uuid.UUID | None
    ) -> tuple[str, int]:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "org": str(org_id),
            "role": role.value,
            "team": str(team_id) if team_id else None,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": str(new_id()),
        }
        return self._encode(claims, ACCESS_TOKEN_TYPE), int(self.ttl.total_seconds())

    def principal_from_access_token(self, token: str) -> Principal:
        now = time.time()
        cached = self.cache.get(token, now)
        if cached is not None:
            return cached
        claims = self._decode(token, ACCESS_TOKEN_TYPE)
        try:
            team = claims.get("team")
            principal = Principal(
                org_id=uuid.UUID(claims["org"]),
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                team_id=uuid.UUID(team) if team else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidToken() from exc
        # Cached only until its own expiry: an expired token is never served from here.
        self.cache.put(token, principal, float(claims["exp"]))
        return principal

    # Refresh tokens --------------------------------------------------------------------

    def issue_refresh_token(
        self, *, token_id: uuid.UUID, family_id: uuid.UUID, user_id: uuid.UUID, org_id: uuid.UUID,
        expires_at: dt.datetime,
    ) -> str:
        now = dt.datetime.now(dt.UTC)
        claims = {
            "sub": str(user_id),
            "org": str(org_id),
            "fam": str(family_id),
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "jti": str(token_id),
        }
        return self._encode(claims, REFRESH_TOKEN_TYPE)

    def refresh_claims(self, token: str) -> RefreshClaims:
        claims = self._decode(token, REFRESH_TOKEN_TYPE)
        try:
            return RefreshClaims(
                token_id=uuid.UUID(claims["jti"]),
                family_id=uuid.UUID(claims["fam"]),
                user_id=uuid.UUID(claims["sub"]),
                org_id=uuid.UUID(claims["org"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidToken() from exc
