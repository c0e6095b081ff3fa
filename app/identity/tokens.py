"""Access tokens: short-lived JWTs following RFC 8725 (explicit algorithm, issuer,
audience, expiry, key id, and an explicit token type so no other token is accepted)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import jwt

from app.core.config import Settings
from app.core.errors import Unauthorized
from app.core.ids import new_id
from app.identity.models import Role
from app.identity.principal import Principal

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 media type, in the header and the claims


class InvalidToken(Unauthorized):
    code, title = "invalid-token", "Invalid or expired token"


class TokenCodec:
    """Signs and verifies access tokens with the configured key ring; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self.keys = settings.signing_keys()
        self.signing_kid = next(iter(self.keys))
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = dt.timedelta(seconds=settings.access_token_ttl_s)

    def issue_access_token(
        self, *, user_id: uuid.UUID, org_id: uuid.UUID, role: Role, team_id: uuid.UUID | None
    ) -> tuple[str, int]:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "org": str(org_id),
            "role": role.value,
            "team": str(team_id) if team_id else None,
            "typ": ACCESS_TOKEN_TYPE,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": str(new_id()),
        }
        token = jwt.encode(
            claims,
            self.keys[self.signing_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.signing_kid, "typ": ACCESS_TOKEN_TYPE},
        )
        return token, int(self.ttl.total_seconds())

    def principal_from_access_token(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.get(header.get("kid", ""))
            if key is None or header.get("typ") != ACCESS_TOKEN_TYPE or header.get("alg") != ALGORITHM:
                raise InvalidToken()
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            if claims.get("typ") != ACCESS_TOKEN_TYPE:
                raise InvalidToken()
            team = claims.get("team")
            return Principal(
                org_id=uuid.UUID(claims["org"]),
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                team_id=uuid.UUID(team) if team else None,
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidToken() from exc
