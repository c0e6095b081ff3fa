"""The request's principal, from a bearer token: a JWT access token for people, an API
key for integrations. No database round trip for JWTs (and a cache for both)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.errors import Unauthorized
from app.identity.principal import Principal

API_KEY_PREFIX = "crm_"


class PrincipalScheme(OAuth2PasswordBearer):
    """The OAuth2 password scheme (Swagger's "Authorize" button signs in with email and
    password) that resolves straight to the Principal: one dependency instead of a chain
    of two, because it runs on nearly every request."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        token = await super().__call__(request)
        return await get_principal(request, token)


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)
principal_scheme = PrincipalScheme(tokenUrl="/v1/auth/token", scheme_name="OAuth2PasswordBearer", auto_error=False)


async def get_principal(request: Request, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("Send 'Authorization: Bearer <token>'")
    if token.startswith(API_KEY_PREFIX):
        authenticate_api_key = getattr(request.app.state, "api_key_authenticator", None)
        if authenticate_api_key is None:
            raise Unauthorized("API keys are not enabled")
        return await authenticate_api_key(request, token)
    return request.app.state.tokens.principal_from_access_token(token)


CurrentPrincipal = Annotated[Principal, Depends(principal_scheme)]


async def principal_from_request(request: Request) -> Principal | None:
    """The principal if the request carries a bearer token, else None (for code that runs
    before routing decides whether authentication is required)."""
    token = await oauth2_scheme(request)
    return await get_principal(request, token) if token else None
