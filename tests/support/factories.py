"""Builders for tenants, teams and users, and the bearer headers to act as them.

Tenants are born through `app.identity.service.create_org` (the one way an organisation
is created), with a precomputed password hash so tests do not pay argon2 per tenant:
every factory-made user whose hash is `known_password_hash()` signs in with TEST_PASSWORD.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import new_id
from app.core.security import hash_password
from app.identity.models import Org, Role, Team, User
from app.identity.principal import Principal

TEST_PASSWORD = "correct horse battery staple"


@functools.cache
def known_password_hash() -> str:
    return hash_password(TEST_PASSWORD)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{new_id().hex[-10:]}@example.com"


@dataclass
class Actor:
    user: User
    principal: Principal
    headers: dict[str, str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


@dataclass
class Tenant:
    """An organisation under test, with an admin and helpers to add people."""

    app: FastAPI
    session: AsyncSession
    org: Org
    admin: Actor = field(init=False)

    @property
    def id(self) -> uuid.UUID:
        return self.org.id

    async def add_team(self, name: str, *, parent: Team | None = None, manager: Actor | None = None) -> Team:
        team = Team(org_id=self.org.id, name=name, parent_id=parent.id if parent else None,
                    manager_id=manager.id if manager else None)
        self.session.add(team)
        await self.session.flush()
        return team

    async def add_user(self, role: Role = Role.rep, *, team: Team | None = None, name: str | None = None,
                       password_hash: str | None = None, email: str | None = None,
                       approval_groups: list[str] | None = None) -> Actor:
        """A user with a valid access token. Pass `password_hash=known_password_hash()` for
        one who can also sign in (with TEST_PASSWORD)."""
        user = User(
            org_id=self.org.id,
            email=email or unique_email(role.value),
            full_name=name or f"Test {role.value.title()}",
            role=role,
            team_id=team.id if team else None,
            password_hash=password_hash,
            approval_groups=approval_groups or [],
        )
        self.session.add(user)
        await self.session.flush()
        return actor_for(self.app, user)


def actor_for(app: FastAPI, user: User) -> Actor:
    token, _ = app.state.tokens.issue_access_token(
        user_id=user.id, org_id=user.org_id, role=user.role, team_id=user.team_id
    )
    principal = Principal(org_id=user.org_id, user_id=user.id, role=user.role, team_id=user.team_id)
    return Actor(user=user, principal=principal, headers={"Authorization": f"Bearer {token}"})


async def create_tenant(app: FastAPI, session: AsyncSession, name: str = "Acme 有限公司") -> Tenant:
    """An organisation and its admin (Tenant.admin, who signs in with TEST_PASSWORD)."""
    from app.identity.service import create_org

    org, admin, _ = await create_org(
        session, name=name, admin_email=unique_email("admin"), admin_name="Ada Admin",
        admin_password_hash=known_password_hash(),
    )
    tenant = Tenant(app=app, session=session, org=org)
    tenant.admin = actor_for(app, admin)
    return tenant
