"""The acting principal every service function receives, and the visibility rules.

Visibility: a rep sees their own records, a manager those owned by anyone in the team
subtree they manage or belong to, admins and viewers the whole organisation (viewers
read only). API keys act organisation-wide within their scopes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, literal, select, true
from sqlalchemy.orm import aliased

from app.core.errors import Forbidden
from app.identity.models import Role, Team, User

Access = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None  # None for an API key
    team_id: uuid.UUID | None = None
    kind: Literal["user", "api_key", "system"] = "user"  # system: the CLI, seeding
    api_key_id: uuid.UUID | None = None
    # Scopes like "opportunities:read", "opportunities:write", "*:read". Users have "*".
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))

    @property
    def actor_id(self) -> uuid.UUID | None:
        """Who to record as the actor: the user, or the API key."""
        return self.user_id or self.api_key_id

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def allows(self, domain: str, access: Access) -> bool:
        if access == "write" and self.role is Role.viewer:
            return False
        s = self.scopes
        if "*" in s or f"{domain}:write" in s or "*:write" in s:
            return True
        return access == "read" and (f"{domain}:read" in s or "*:read" in s)

    def require(self, domain: str, access: Access) -> None:
        if not self.allows(domain, access):
            raise Forbidden(f"This principal may not {access} {domain}")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("Your role does not allow this action")


def team_subtree_ids(principal: Principal) -> Any:
    """A subquery of the ids of the teams the principal's visibility covers: the teams
    they manage or belong to, and every team below those (recursive CTE, no round trip).
    The CTE is anonymous: one statement may hold several (a UNION over leads, contacts and
    accounts each scoped by visibility), and two CTEs of the same name do not compile."""
    roots = select(Team.id).where(
        Team.org_id == principal.org_id,
        (Team.manager_id == principal.user_id) | (Team.id == principal.team_id),
    )
    tree = roots.cte(recursive=True)
    child = aliased(Team)
    tree = tree.union(select(child.id).where(child.parent_id == tree.c.id, child.org_id == principal.org_id))
    return select(tree.c.id)


def visible_owner_clause(principal: Principal, owner_col: ColumnElement[Any]) -> ColumnElement[bool]:
    """The filter on an owner column that implements record visibility for reads."""
    if principal.kind == "api_key" or principal.role in (Role.admin, Role.viewer):
        return true()
    if principal.user_id is None:
        return false()
    if principal.role is Role.rep:
        return owner_col == literal(principal.user_id)
    members = select(User.id).where(User.org_id == principal.org_id, User.team_id.in_(team_subtree_ids(principal)))
    return (owner_col == literal(principal.user_id)) | owner_col.in_(members)
