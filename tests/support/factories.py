"""Builders for tenants, teams and users, and the bearer headers to act as them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import new_id
from app.identity.models import Org, Role, Team, User
from app.identity.principal import Principal
from app.pipelines.service import create_default_pipeline

TEST_PASSWORD = "correct horse battery staple"


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
                       password_hash: str | None = None) -> Actor:
        user = User(
            org_id=self.org.id,
            email=f"{role.value}-{new_id().hex[-10:]}@example.test",
            full_name=name or f"Test {role.value.title()}",
            role=role,
            team_id=team.id if team else None,
            password_hash=password_hash,
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
    org = Org(name=name)
    session.add(org)
    await session.flush()
    tenant = Tenant(app=app, session=session, org=org)
    tenant.admin = await tenant.add_user(Role.admin, name="Ada Admin")
    await create_default_pipeline(session, org.id)
    return tenant
