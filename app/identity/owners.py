"""Who may own a record: one rule for deals, accounts, contacts, leads and tasks.

A rep owns and assigns only to themselves (403 for anyone else); a manager assigns to
active users of the team subtree they see (`visible_owner_clause`); admins, API keys and
the system principal (CLI, seeding) to any active user of the organisation. An unknown,
inactive or out-of-scope user is one and the same 422 `invalid-owner`, so the answer never
tells whether a user outside the caller's scope exists.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, Unprocessable
from app.identity.models import Role, User
from app.identity.principal import Principal, visible_owner_clause
from app.identity.service import system_principal


class InvalidOwner(Unprocessable):
    code, title = "invalid-owner", "The owner must be an active user you may assign records to"


def assignable(principal: Principal) -> ColumnElement[bool]:
    """A filter on `user`: whom the principal may make an owner (a rep: themselves). The
    database side of the rule, for one id here and for a whole map in the lead import."""
    return (User.org_id == principal.org_id) & User.is_active.is_(True) & visible_owner_clause(principal, User.id)


async def acting_user(session: AsyncSession, org_id: uuid.UUID, actor_id: uuid.UUID | None) -> Principal:
    """The principal a background job assigns owners as: the user who started it, with the
    role and team they have now; an API key or nobody (the CLI without --as) acts for the
    organisation, as it does over the API."""
    user = await session.scalar(select(User).where(User.id == actor_id, User.org_id == org_id)) if actor_id else None
    if user is None:
        return system_principal(org_id)
    return Principal(org_id=org_id, role=user.role, user_id=user.id, team_id=user.team_id)


async def resolve_owner(
    session: AsyncSession, principal: Principal, owner_id: uuid.UUID | None, *,
    field: str = "owner_id", what: str = "records",
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """(owner id, owner's team) for a record the principal creates or reassigns: the caller
    when `owner_id` is None, else `owner_id` if the caller may assign to them. `field` names
    the body field in errors, `what` the records in messages."""
    if owner_id is None or owner_id == principal.user_id:
        if principal.user_id is None:
            raise InvalidOwner(f"An API key must name the {field}",
                               errors=[{"loc": ["body", field], "msg": "required", "type": "value_error"}])
        if owner_id is None or principal.team_id is not None:
            return principal.user_id, principal.team_id
    if principal.role is Role.rep and owner_id != principal.user_id:
        raise Forbidden(f"A rep cannot assign {what} to someone else")
    row = (await session.execute(select(User.id, User.team_id).where(User.id == owner_id, assignable(principal)))).first()
    if row is None:
        raise InvalidOwner(f"No active user with that id that you may assign {what} to",
                           errors=[{"loc": ["body", field], "msg": "unknown user", "type": "value_error"}])
    return row.id, row.team_id
