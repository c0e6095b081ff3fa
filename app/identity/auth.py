"""The request's principal, from a bearer token: a JWT access token for people, an API
key for integrations. No database round trip for JWTs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.errors import Unauthorized
from app.identity.principal import Principal

# The OAuth2 password scheme makes Swagger's "Authorize" button log in with email/password.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)

API_KEY_PREFIX = "crm_"


async def get_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise Unauthorized("Send 'Authorization: Bearer <token>'")
    if token.startswith(API_KEY_PREFIX):
        authenticate_api_key = getattr(request.app.state, "api_key_authenticator", None)
        if authenticate_api_key is None:
            raise Unauthorized("API keys are not enabled")
        return await authenticate_api_key(request, token)
    return request.app.state.tokens.principal_from_access_token(token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def principal_from_request(request: Request) -> Principal | None:
    """The principal if the request carries a bearer token, else None (for code that runs
    before routing decides whether authentication is required)."""
    token = await oauth2_scheme(request)
    return await get_principal(request, token) if token else None
