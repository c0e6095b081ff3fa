"""HTTP routes of the identity domain: sign-in, me, users, teams, API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    Header,
    Query,
    Request,
    Response,
    status,
)
from fastapi.security import OAuth2PasswordRequestForm

from app.core.db import SessionDep
from app.core.etag import set_etag
from app.core.idempotency import IDEMPOTENCY_EXEMPT
from app.core.pagination import CursorParam, LimitParam, Page
from app.identity import auth_service, service
from app.identity.auth import CurrentPrincipal
from app.identity.models import ApiKey, Role, Team, User
from app.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MeOut,
    OrgOut,
    PasswordChange,
    PasswordSet,
    RefreshRequest,
    SessionOut,
    TeamCreate,
    TeamOut,
    TeamUpdate,
    TokenPair,
    UserCreate,
    UserOut,
    UserUpdate,
)

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=64, description="The ETag you read; the write fails with 412 if it changed"),
]

auth_router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(prefix="/me", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
teams_router = APIRouter(prefix="/teams", tags=["teams"])
api_keys_router = APIRouter(prefix="/api-keys", tags=["api-keys"])


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def team_out(team: Team) -> TeamOut:
    return TeamOut.model_validate(team, from_attributes=True)


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


# Auth -----------------------------------------------------------------------------------


@auth_router.post("/token", response_model=TokenPair, openapi_extra=IDEMPOTENCY_EXEMPT, summary="Sign in with email and password")
async def sign_in(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenPair:
    """OAuth2 password grant (form fields `username` = email, `password`), so Swagger's
    Authorize button works. Returns a short-lived access token and a rotating refresh
    token. Repeated failures are throttled per account and per address (429 with
    Retry-After)."""
    return await auth_service.login(
        request.app.state.db, request.app.state.tokens, request.app.state.settings,
        email=form.username, password=form.password, address=_address(request),
        user_agent=request.headers.get("user-agent"),
    )


@auth_router.post("/refresh", response_model=TokenPair, openapi_extra=IDEMPOTENCY_EXEMPT, summary="Exchange a refresh token for a new pair")
async def refresh_tokens(request: Request, body: RefreshRequest) -> TokenPair:
    """The refresh token is spent: store the new one. Presenting a spent token again
    revokes every token of that sign-in (reuse detection)."""
    return await auth_service.refresh(
        request.app.state.db, request.app.state.tokens, refresh_token=body.refresh_token,
        address=_address(request), user_agent=request.headers.get("user-agent"),
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=IDEMPOTENCY_EXEMPT, summary="Revoke a sign-in")
async def sign_out(request: Request, body: RefreshRequest) -> Response:
    """Revokes the refresh token and every rotation of it. Access tokens already issued
    expire by themselves within minutes."""
    await auth_service.logout(request.app.state.db, request.app.state.tokens, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Me -------------------------------------------------------------------------------------


@me_router.get("", response_model=MeOut, summary="Who am I")
async def read_me(session: SessionDep, principal: CurrentPrincipal) -> MeOut:
    org = await service.get_org(session, principal)
    me = MeOut(kind=principal.kind, org=OrgOut(id=org.id, name=org.name), scopes=sorted(principal.scopes))
    if principal.kind == "api_key" and principal.api_key_id:
        key = await session.get(ApiKey, principal.api_key_id)
        me.api_key = api_key_out(key) if key is not None else None
    elif principal.user_id is not None:
        user = await session.get(User, principal.user_id)
        if user is not None and user.org_id == principal.org_id:
            me.user = user_out(user)
            if user.team_id is not None:
                me.team = team_out(await service.get_team(session, principal, user.team_id))
        me.manages_team_ids = await service.managed_team_ids(session, principal)
    return me


@me_router.post("/password", status_code=status.HTTP_204_NO_CONTENT, summary="Change my password")
async def change_my_password(session: SessionDep, principal: CurrentPrincipal, body: PasswordChange) -> Response:
    """Every refresh token of the user is revoked: other devices sign in again."""
    await service.change_own_password(session, principal, current=body.current_password, new=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.get("/sessions", response_model=list[SessionOut], summary="My active sign-ins")
async def list_my_sessions(session: SessionDep, principal: CurrentPrincipal) -> list[SessionOut]:
    """Each sign-in (device) keeps its id across refreshes."""
    return [SessionOut(**row) for row in await service.list_sessions(session, principal)]


@me_router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out everywhere")
async def revoke_my_sessions(session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Revokes every refresh token of the user; access tokens expire within minutes."""
    await service.revoke_sessions(session, principal, family_id=None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out one device")
async def revoke_my_session(session: SessionDep, principal: CurrentPrincipal, session_id: uuid.UUID) -> Response:
    await service.revoke_sessions(session, principal, family_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Users ----------------------------------------------------------------------------------


@users_router.get("", response_model=Page[UserOut], summary="List users")
async def list_users(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
    role: Role | None = None,
    team_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    approval_group: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or email")] = None,
) -> Page[UserOut]:
    rows, next_cursor = await service.list_users(
        session, principal, role=role, team_id=team_id, is_active=is_active, approval_group=approval_group,
        q=q, cursor=cursor, limit=limit,
    )
    return Page(items=[user_out(u) for u in rows], next_cursor=next_cursor)


@users_router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Create a user (admin)")
async def create_user(session: SessionDep, principal: CurrentPrincipal, body: UserCreate,
                      response: Response) -> UserOut:
    user = await service.create_user(
        session, principal, email=str(body.email), full_name=body.full_name, role=body.role,
        team_id=body.team_id, password=body.password, approval_groups=body.approval_groups,
    )
    await session.refresh(user, ["created_at", "updated_at"])
    set_etag(response, user.version)
    response.headers["Location"] = f"/v1/users/{user.id}"
    return user_out(user)


@users_router.get("/{user_id}", response_model=UserOut, summary="Read a user")
async def read_user(session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID,
                    response: Response) -> UserOut:
    user = await service.get_user(session, principal, user_id)
    set_etag(response, user.version)
    return user_out(user)


@users_router.patch("/{user_id}", response_model=UserOut, summary="Update a user (admin)")
async def update_user(session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID, body: UserUpdate,
                      response: Response, if_match: IfMatch = None) -> UserOut:
    """Role and team changes reach the user's access token at its next refresh (within
    the access-token lifetime). Setting `is_active: false` signs the user out everywhere."""
    changes = body.model_dump(exclude_unset=True)
    if "email" in changes and changes["email"] is not None:
        changes["email"] = str(changes["email"])
    user = await service.update_user(session, principal, user_id, changes=changes, if_match=if_match)
    set_etag(response, user.version)
    return user_out(user)


@users_router.delete("/{user_id}", response_model=UserOut, summary="Deactivate a user (admin)")
async def deactivate_user(session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID,
                          response: Response, if_match: IfMatch = None) -> UserOut:
    """Users are never deleted (their records keep their owner): they are deactivated,
    cannot sign in, and their refresh tokens are revoked. Reactivate with PATCH."""
    user = await service.deactivate_user(session, principal, user_id, if_match=if_match)
    set_etag(response, user.version)
    return user_out(user)


@users_router.post("/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT,
                   summary="Set a user's password (admin)")
async def set_user_password(session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID,
                            body: PasswordSet) -> Response:
    await service.set_password(session, principal, user_id, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Teams ----------------------------------------------------------------------------------


@teams_router.get("", response_model=Page[TeamOut], summary="List teams")
async def list_teams(session: SessionDep, principal: CurrentPrincipal, limit: LimitParam = 50,
                     cursor: CursorParam = None, parent_id: uuid.UUID | None = None) -> Page[TeamOut]:
    rows, next_cursor = await service.list_teams(session, principal, parent_id=parent_id, cursor=cursor,
                                                 limit=limit)
    return Page(items=[team_out(t) for t in rows], next_cursor=next_cursor)


@teams_router.post("", response_model=TeamOut, status_code=status.HTTP_201_CREATED, summary="Create a team (admin)")
async def create_team(session: SessionDep, principal: CurrentPrincipal, body: TeamCreate,
                      response: Response) -> TeamOut:
    team = await service.create_team(session, principal, name=body.name, parent_id=body.parent_id,
                                     manager_id=body.manager_id)
    set_etag(response, team.version)
    response.headers["Location"] = f"/v1/teams/{team.id}"
    return team_out(team)


@teams_router.get("/{team_id}", response_model=TeamOut, summary="Read a team")
async def read_team(session: SessionDep, principal: CurrentPrincipal, team_id: uuid.UUID,
                    response: Response) -> TeamOut:
    team = await service.get_team(session, principal, team_id)
    set_etag(response, team.version)
    return team_out(team)


@teams_router.patch("/{team_id}", response_model=TeamOut, summary="Update a team (admin)")
async def update_team(session: SessionDep, principal: CurrentPrincipal, team_id: uuid.UUID, body: TeamUpdate,
                      response: Response, if_match: IfMatch = None) -> TeamOut:
    team = await service.update_team(session, principal, team_id, changes=body.model_dump(exclude_unset=True),
                                     if_match=if_match)
    set_etag(response, team.version)
    return team_out(team)


@teams_router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an empty team (admin)")
async def delete_team(session: SessionDep, principal: CurrentPrincipal, team_id: uuid.UUID,
                      if_match: IfMatch = None) -> Response:
    await service.delete_team(session, principal, team_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# API keys -------------------------------------------------------------------------------


@api_keys_router.get("", response_model=Page[ApiKeyOut], summary="List API keys (admin)")
async def list_api_keys(session: SessionDep, principal: CurrentPrincipal, limit: LimitParam = 50,
                        cursor: CursorParam = None, include_revoked: bool = False) -> Page[ApiKeyOut]:
    rows, next_cursor = await service.list_api_keys(session, principal, include_revoked=include_revoked,
                                                    cursor=cursor, limit=limit)
    return Page(items=[api_key_out(k) for k in rows], next_cursor=next_cursor)


@api_keys_router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED,
                      summary="Create an API key (admin)", openapi_extra=IDEMPOTENCY_EXEMPT)
async def create_api_key(session: SessionDep, principal: CurrentPrincipal, body: ApiKeyCreate,
                         response: Response) -> ApiKeyCreated:
    """The response is the only time the key is shown: only its hash is stored. This POST
    ignores Idempotency-Key (replaying it would mean storing the key)."""
    key, secret = await service.create_api_key(session, principal, name=body.name, scopes=body.scopes,
                                               expires_at=body.expires_at)
    response.headers["Location"] = f"/v1/api-keys/{key.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**api_key_out(key).model_dump(), key=secret)


@api_keys_router.get("/{key_id}", response_model=ApiKeyOut, summary="Read an API key (admin)")
async def read_api_key(session: SessionDep, principal: CurrentPrincipal, key_id: uuid.UUID) -> ApiKeyOut:
    return api_key_out(await service.get_api_key(session, principal, key_id))


@api_keys_router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key (admin)")
async def revoke_api_key(request: Request, session: SessionDep, principal: CurrentPrincipal,
                         key_id: uuid.UUID, background: BackgroundTasks) -> Response:
    """Effective at once in this process; other API processes may accept the key for up
    to `CRM_API_KEY_CACHE_TTL_S` seconds (30 by default) from their cache."""
    key = await service.revoke_api_key(session, principal, key_id)
    forget = request.app.state.api_key_authenticator.forget
    forget(key.id)
    background.add_task(forget, key.id)  # again after the commit, in case a request re-cached it meanwhile
    return Response(status_code=status.HTTP_204_NO_CONTENT)


routers = (auth_router, me_router, users_router, teams_router, api_keys_router)
