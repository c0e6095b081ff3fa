"""Request and response bodies of the identity API. Inputs forbid unknown fields, so
org, ids, versions and timestamps can never be smuggled in (mass assignment)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
)

from app.core.timeinput import AwareDateTime
from app.identity.models import Role

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, Field(min_length=10, max_length=128, description="10 to 128 characters")]
ApprovalGroup = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
]
Scope = Annotated[str, Field(max_length=64, examples=["opportunities:read"])]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Users ----------------------------------------------------------------------------------


class UserCreate(Input):
    email: EmailStr = Field(max_length=320, examples=["li.wei@example.com"])
    full_name: Name = Field(examples=["Li Wei 李伟"])
    role: Role = Field(examples=["rep"])
    team_id: uuid.UUID | None = None
    password: Password | None = Field(
        default=None, description="Initial password; without one the user cannot sign in until an admin sets it"
    )
    approval_groups: list[ApprovalGroup] = Field(default_factory=list, max_length=20, examples=[["finance"]])


class UserUpdate(Input):
    """Only the fields sent change. Send `If-Match` with the ETag you read."""

    email: EmailStr | None = Field(default=None, max_length=320)
    full_name: Name | None = None
    role: Role | None = None
    team_id: uuid.UUID | None = None
    approval_groups: list[ApprovalGroup] | None = Field(default=None, max_length=20)
    is_active: StrictBool | None = None


class PasswordSet(Input):
    password: Password


class PasswordChange(Input):
    current_password: str = Field(max_length=128)
    new_password: Password


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    team_id: uuid.UUID | None
    approval_groups: list[str]
    is_active: bool
    last_login_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


# Teams ----------------------------------------------------------------------------------


class TeamCreate(Input):
    name: Name = Field(examples=["East China 华东区"])
    parent_id: uuid.UUID | None = Field(default=None, description="The team above this one")
    manager_id: uuid.UUID | None = Field(default=None, description="A manager or admin of the organisation")


class TeamUpdate(Input):
    name: Name | None = None
    parent_id: uuid.UUID | None = None
    manager_id: uuid.UUID | None = None


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    manager_id: uuid.UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


# API keys -------------------------------------------------------------------------------


class ApiKeyCreate(Input):
    name: Name = Field(examples=["ERP sync"])
    scopes: list[Scope] = Field(
        min_length=1, max_length=40, examples=[["opportunities:read", "leads:write"]],
        description="`<domain>:read` or `<domain>:write` (write implies read); `*:read` / `*:write` for all domains",
    )
    expires_at: AwareDateTime | None = Field(default=None, description="Optional expiry (must be in the future)")


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart", examples=["crm_Ab3dE9xQ"])
    scopes: list[str]
    created_by_id: uuid.UUID | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None = Field(description="Accurate to about a minute")
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown only in this response: store it now.")


# Me and auth ----------------------------------------------------------------------------


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str


class MeOut(BaseModel):
    kind: Literal["user", "api_key", "system"]
    org: OrgOut
    user: UserOut | None = None
    team: TeamOut | None = None
    api_key: ApiKeyOut | None = None
    scopes: list[str]
    manages_team_ids: list[uuid.UUID] = Field(default_factory=list, description="Teams this user manages")


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid (it rotates on use)")


class RefreshRequest(Input):
    refresh_token: str = Field(max_length=4096)


class SessionOut(BaseModel):
    """One sign-in (a refresh-token family) of the current user."""

    id: uuid.UUID = Field(description="The sign-in's id (stable across refreshes)")
    signed_in_at: dt.datetime
    last_refreshed_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str | None
    address: str | None
