"""Organisations, users, teams and API keys: the rules.

Every function takes the session and the acting principal. Administration (users, teams)
needs an admin user, or an API key with the `users`/`teams` write scope; API keys are
managed by admin users only (a key can never mint keys). Everything is scoped to
`principal.org_id`: another organisation's id reads as a missing one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.audit import AuditAction, record_audit
from app.core.db import one_or_404
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.etag import check_version
from app.core.events import record_event
from app.core.pagination import keyset_page, page_of
from app.core.security import generate_password, hash_password, verify_password
from app.identity.api_keys import PREFIX_LENGTH, generate_api_key, hash_api_key
from app.identity.models import ApiKey, Org, RefreshToken, Role, Team, User
from app.identity.principal import Principal
from app.identity.scopes import invalid_scopes
from app.pipelines.pipeline_service import create_default_pipeline

# ---------------------------------------------------------------------------------------
# Errors


class EmailTaken(Conflict):
    code, title = "email-taken", "A user with this email already exists"


class LastAdmin(Conflict):
    code, title = "last-admin", "An organisation must keep at least one active admin"


class TeamNotEmpty(Conflict):
    code, title = "team-not-empty", "The team still has sub-teams or members"


class TeamCycle(Unprocessable):
    code, title = "team-cycle", "A team cannot sit below itself"


class WrongPassword(Forbidden):
    code, title = "wrong-password", "The current password is wrong"


def _unknown(field: str, what: str) -> Unprocessable:
    # The same answer for a missing id and another organisation's id.
    return Unprocessable(
        f"No {what} with that id in your organisation",
        errors=[{"loc": ["body", field], "msg": f"unknown {what}", "type": "unknown_reference"}],
    )


# ---------------------------------------------------------------------------------------
# Permissions


def require_admin(principal: Principal, domain: str) -> None:
    """Administration: an admin user, or an API key holding `<domain>:write`."""
    principal.require(domain, "write")
    if principal.kind == "user":
        principal.require_role(Role.admin)


def require_admin_user(principal: Principal) -> None:
    if principal.kind != "user" or principal.role is not Role.admin:
        raise Forbidden("Only an admin user may manage API keys")


SYSTEM = "system"


def system_principal(org_id: uuid.UUID) -> Principal:
    """The actor of bootstrap actions (CLI, seeding)."""
    return Principal(org_id=org_id, role=Role.admin, kind="system")


# ---------------------------------------------------------------------------------------
# Serialisation for audit and event payloads (never the password hash)


def user_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role.value,
        "team_id": user.team_id,
        "approval_groups": list(user.approval_groups or []),
        "is_active": user.is_active,
        "version": user.version,
    }


def team_fields(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "parent_id": team.parent_id, "manager_id": team.manager_id,
            "version": team.version}


def api_key_fields(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "expires_at": key.expires_at, "revoked_at": key.revoked_at}


async def _audit_and_event(
    session: AsyncSession, principal: Principal, *, entity_type: str, entity_id: uuid.UUID, action: AuditAction,
    event_type: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
) -> None:
    await record_audit(session, principal, entity_type=entity_type, entity_id=entity_id, action=action,
                       before=before, after=after)
    payload: dict[str, Any] = {entity_type: after if after is not None else before}
    if before is not None and after is not None:
        payload["changes"] = {k: {"before": before.get(k), "after": after.get(k)}
                              for k in after if before.get(k) != after.get(k)}
    await record_event(session, org_id=principal.org_id, type=event_type, entity_type=entity_type,
                       entity_id=entity_id, payload=payload, actor_id=principal.actor_id)


# ---------------------------------------------------------------------------------------
# Organisations


async def hash_password_async(password: str) -> str:
    # argon2id at 19 MiB takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, password_hash: str) -> tuple[bool, str | None]:
    return await asyncio.to_thread(verify_password, password, password_hash)


async def create_org(
    session: AsyncSession,
    *,
    name: str,
    admin_email: str,
    admin_password: str | None = None,
    admin_name: str = "Administrator",
    admin_password_hash: str | None = None,
) -> tuple[Org, User, str | None]:
    """The one way an organisation is born: the org and its first admin. Returns the
    generated password when none was given (`admin_password_hash` lets tests skip the
    argon2 cost with a precomputed hash; then no password is returned)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise Unprocessable("The organisation name must have 1 to 200 characters")
    generated: str | None = None
    if admin_password_hash is None:
        if admin_password is None:
            admin_password = generated = generate_password(24)
        elif len(admin_password) < 10:
            raise Unprocessable("The admin password must have at least 10 characters")
        admin_password_hash = await hash_password_async(admin_password)
    await _ensure_email_free(session, admin_email)
    org = Org(name=name)
    session.add(org)
    await session.flush()
    admin = User(org_id=org.id, email=admin_email.strip(), full_name=admin_name, role=Role.admin,
                 password_hash=admin_password_hash, approval_groups=[], is_active=True)
    session.add(admin)
    await _flush_user(session)
    # Audited, but no events: nobody can have subscribed to an organisation's feed before
    # it exists, so its event sequence starts with its first change after bootstrap.
    actor = system_principal(org.id)
    await record_audit(session, actor, entity_type="org", entity_id=org.id, action=AuditAction.create,
                       after={"id": org.id, "name": org.name})
    await record_audit(session, actor, entity_type="user", entity_id=admin.id, action=AuditAction.create,
                       after=user_fields(admin))
    await create_default_pipeline(session, org.id)
    return org, admin, generated


# ---------------------------------------------------------------------------------------
# Users


def _users(principal: Principal) -> Select[tuple[User]]:
    return select(User).where(User.org_id == principal.org_id)


async def _ensure_email_free(session: AsyncSession, email: str, *, except_id: uuid.UUID | None = None) -> None:
    stmt = select(User.id).where(func.lower(User.email) == email.strip().lower())
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    if (await session.execute(stmt.limit(1))).first() is not None:
        raise EmailTaken()


async def _flush_user(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same email
        if "uq_user_email_lower" in str(exc.orig):
            raise EmailTaken() from None
        raise


async def _team_in_org(session: AsyncSession, principal: Principal, team_id: uuid.UUID | None, field: str) -> None:
    if team_id is None:
        return
    found = await session.scalar(select(Team.id).where(Team.org_id == principal.org_id, Team.id == team_id))
    if found is None:
        raise _unknown(field, "team")


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, lock: bool = False) -> User:
    principal.require("users", "read")
    return await one_or_404(session, _users(principal).where(User.id == user_id), "No user with that id", lock=lock)


async def list_users(
    session: AsyncSession, principal: Principal, *, role: Role | None, team_id: uuid.UUID | None,
    is_active: bool | None, approval_group: str | None, q: str | None, cursor: str | None, limit: int,
) -> tuple[list[User], str | None]:
    principal.require("users", "read")
    stmt = _users(principal)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    if approval_group is not None:
        stmt = stmt.where(User.approval_groups.contains([approval_group.lower()]))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.full_name.ilike(pattern), User.email.ilike(pattern)))
    rows = (await session.scalars(keyset_page(stmt, [User.id], cursor=cursor, limit=limit))).all()
    return page_of(rows, limit, lambda u: [u.id])


async def create_user(
    session: AsyncSession, principal: Principal, *, email: str, full_name: str, role: Role,
    team_id: uuid.UUID | None, password: str | None, approval_groups: Sequence[str],
) -> User:
    require_admin(principal, "users")
    await _ensure_email_free(session, email)
    await _team_in_org(session, principal, team_id, "team_id")
    user = User(
        org_id=principal.org_id, email=email.strip(), full_name=full_name, role=role, team_id=team_id,
        password_hash=await hash_password_async(password) if password else None,
        approval_groups=sorted(set(approval_groups)), is_active=True,
    )
    session.add(user)
    await _flush_user(session)
    await _audit_and_event(session, principal, entity_type="user", entity_id=user.id, action=AuditAction.create,
                           event_type="user.created", before=None, after=user_fields(user))
    return user


async def _lock_admins(session: AsyncSession, principal: Principal) -> None:
    """Lock the organisation's active admins, always in id order and before the user being
    changed, so two admins demoting each other at once serialise instead of deadlocking,
    and the second one sees the first one's change."""
    await session.execute(
        select(User.id)
        .where(User.org_id == principal.org_id, User.role == Role.admin, User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )


async def _ensure_other_admin(session: AsyncSession, principal: Principal, user: User) -> None:
    """Refuse to leave the organisation without an active admin (rows locked by _lock_admins)."""
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.org_id == principal.org_id, User.role == Role.admin, User.is_active.is_(True),
               User.id != user.id)
    )
    if not others:
        raise LastAdmin()


async def update_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, changes: dict[str, Any], if_match: str | None,
) -> User:
    require_admin(principal, "users")
    if changes.get("role") is not None or changes.get("is_active") is not None:
        await _lock_admins(session, principal)
    user = await get_user(session, principal, user_id, lock=True)
    check_version(user.version, if_match)
    before = user_fields(user)
    if "email" in changes and changes["email"] is not None:
        await _ensure_email_free(session, changes["email"], except_id=user.id)
        user.email = changes["email"].strip()
    if "team_id" in changes:
        await _team_in_org(session, principal, changes["team_id"], "team_id")
        user.team_id = changes["team_id"]
    for field in ("full_name", "role"):
        if changes.get(field) is not None:
            setattr(user, field, changes[field])
    if changes.get("approval_groups") is not None:
        user.approval_groups = sorted(set(changes["approval_groups"]))
    if changes.get("is_active") is not None:
        user.is_active = changes["is_active"]
    was_active_admin = before["is_active"] and before["role"] == Role.admin.value
    if was_active_admin and (user.role is not Role.admin or not user.is_active):
        await _ensure_other_admin(session, principal, user)
    after = user_fields(user)
    if after == before:
        return user
    user.version += 1
    after["version"] = user.version
    await _flush_user(session)
    if before["is_active"] and not user.is_active:
        await _revoke_user_sessions(session, user)
    state_changed = before["is_active"] != after["is_active"]
    event = ("user.reactivated" if user.is_active else "user.deactivated") if state_changed else "user.updated"
    await _audit_and_event(
        session, principal, entity_type="user", entity_id=user.id,
        action=AuditAction.state_change if state_changed else AuditAction.update,
        event_type=event, before=before, after=after,
    )
    await session.refresh(user, ["updated_at"])
    return user


async def deactivate_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, *,
                          if_match: str | None) -> User:
    """Users own records, so they are deactivated, never deleted: they can no longer sign
    in, their refresh tokens are revoked, their records stay."""
    return await update_user(session, principal, user_id, changes={"is_active": False}, if_match=if_match)


async def _revoke_user_sessions(session: AsyncSession, user: User) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.org_id == user.org_id, RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def set_password(session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, password: str) -> User:
    """An admin sets a user's password; the user's sessions end."""
    require_admin(principal, "users")
    user = await get_user(session, principal, user_id, lock=True)
    await _replace_password(session, principal, user, password)
    return user


async def change_own_password(session: AsyncSession, principal: Principal, *, current: str, new: str) -> None:
    """A user changes their own password (knowing the current one); every session ends,
    including the caller's refresh token, so other devices must sign in again."""
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("Only a signed-in user has a password")
    user = await get_user(session, principal, principal.user_id, lock=True)
    ok = False
    if user.password_hash:
        ok, _ = await verify_password_async(current, user.password_hash)
    if not ok:
        raise WrongPassword()
    await _replace_password(session, principal, user, new)


async def _replace_password(session: AsyncSession, principal: Principal, user: User, password: str) -> None:
    user.password_hash = await hash_password_async(password)
    user.version += 1
    await session.flush()
    await _revoke_user_sessions(session, user)
    # The audit entry says that the password changed, never what it is.
    await _audit_and_event(session, principal, entity_type="user", entity_id=user.id, action=AuditAction.update,
                           event_type="user.password_changed", before={"password": "(previous)",
                           "version": user.version - 1}, after={"password": "(new)", "version": user.version})


# ---------------------------------------------------------------------------------------
# Teams


def _teams(principal: Principal) -> Select[tuple[Team]]:
    return select(Team).where(Team.org_id == principal.org_id)


async def get_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID, *, lock: bool = False) -> Team:
    principal.require("teams", "read")
    return await one_or_404(session, _teams(principal).where(Team.id == team_id), "No team with that id", lock=lock)


async def list_teams(
    session: AsyncSession, principal: Principal, *, parent_id: uuid.UUID | None, cursor: str | None, limit: int,
) -> tuple[list[Team], str | None]:
    principal.require("teams", "read")
    stmt = _teams(principal)
    if parent_id is not None:
        stmt = stmt.where(Team.parent_id == parent_id)
    rows = (await session.scalars(keyset_page(stmt, [Team.id], cursor=cursor, limit=limit))).all()
    return page_of(rows, limit, lambda t: [t.id])


async def _valid_manager(session: AsyncSession, principal: Principal, manager_id: uuid.UUID | None) -> None:
    if manager_id is None:
        return
    role = await session.scalar(
        select(User.role).where(User.org_id == principal.org_id, User.id == manager_id, User.is_active.is_(True))
    )
    if role is None:
        raise _unknown("manager_id", "active user")
    if role not in (Role.manager, Role.admin):
        raise Unprocessable(
            "A team's manager must have the manager or admin role",
            errors=[{"loc": ["body", "manager_id"], "msg": "not a manager", "type": "invalid_manager"}],
        )


async def _ensure_no_cycle(session: AsyncSession, principal: Principal, team_id: uuid.UUID,
                           parent_id: uuid.UUID) -> None:
    """The new parent must not be the team itself or one of its descendants."""
    tree = select(Team.id).where(Team.org_id == principal.org_id, Team.id == team_id).cte("below", recursive=True)
    child = aliased(Team)
    tree = tree.union(select(child.id).where(child.parent_id == tree.c.id, child.org_id == principal.org_id))
    if await session.scalar(select(literal(True)).where(tree.c.id == parent_id).select_from(tree).limit(1)):
        raise TeamCycle(errors=[{"loc": ["body", "parent_id"], "msg": "would create a cycle", "type": "team_cycle"}])


async def create_team(session: AsyncSession, principal: Principal, *, name: str, parent_id: uuid.UUID | None,
                      manager_id: uuid.UUID | None) -> Team:
    require_admin(principal, "teams")
    await _team_in_org(session, principal, parent_id, "parent_id")
    await _valid_manager(session, principal, manager_id)
    team = Team(org_id=principal.org_id, name=name, parent_id=parent_id, manager_id=manager_id, version=1)
    session.add(team)
    await session.flush()
    await session.refresh(team, ["created_at", "updated_at"])
    await _audit_and_event(session, principal, entity_type="team", entity_id=team.id, action=AuditAction.create,
                           event_type="team.created", before=None, after=team_fields(team))
    return team


async def update_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID, *, changes: dict[str, Any],
                      if_match: str | None) -> Team:
    require_admin(principal, "teams")
    team = await get_team(session, principal, team_id, lock=True)
    check_version(team.version, if_match)
    before = team_fields(team)
    if changes.get("name") is not None:
        team.name = changes["name"]
    if "parent_id" in changes:
        parent_id = changes["parent_id"]
        if parent_id is not None:
            await _team_in_org(session, principal, parent_id, "parent_id")
            await _ensure_no_cycle(session, principal, team.id, parent_id)
        team.parent_id = parent_id
    if "manager_id" in changes:
        await _valid_manager(session, principal, changes["manager_id"])
        team.manager_id = changes["manager_id"]
    after = team_fields(team)
    if after == before:
        return team
    team.version += 1
    after["version"] = team.version
    await session.flush()
    await session.refresh(team, ["updated_at"])
    await _audit_and_event(session, principal, entity_type="team", entity_id=team.id, action=AuditAction.update,
                           event_type="team.updated", before=before, after=after)
    return team


async def delete_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID, *,
                      if_match: str | None) -> None:
    require_admin(principal, "teams")
    team = await get_team(session, principal, team_id, lock=True)
    check_version(team.version, if_match)
    busy = await session.scalar(
        select(
            select(Team.id).where(Team.org_id == principal.org_id, Team.parent_id == team.id).exists()
            | select(User.id).where(User.org_id == principal.org_id, User.team_id == team.id).exists()
        )
    )
    if busy:
        raise TeamNotEmpty("Move its sub-teams and members elsewhere first")
    before = team_fields(team)
    await session.delete(team)
    await session.flush()
    await _audit_and_event(session, principal, entity_type="team", entity_id=team_id, action=AuditAction.delete,
                           event_type="team.deleted", before=before, after=None)


async def managed_team_ids(session: AsyncSession, principal: Principal) -> list[uuid.UUID]:
    if principal.user_id is None:
        return []
    return list((await session.scalars(
        select(Team.id).where(Team.org_id == principal.org_id, Team.manager_id == principal.user_id).order_by(Team.id)
    )).all())


# ---------------------------------------------------------------------------------------
# API keys


def _api_keys(principal: Principal) -> Select[tuple[ApiKey]]:
    return select(ApiKey).where(ApiKey.org_id == principal.org_id)


async def create_api_key(session: AsyncSession, principal: Principal, *, name: str, scopes: Sequence[str],
                         expires_at: Any) -> tuple[ApiKey, str]:
    """Returns the row and the secret key, which is never stored and never shown again."""
    require_admin_user(principal)
    bad = invalid_scopes(list(scopes))
    if bad:
        raise Unprocessable(
            f"Unknown scopes: {', '.join(bad)}",
            errors=[{"loc": ["body", "scopes"], "msg": f"unknown scope {s!r}", "type": "invalid_scope"} for s in bad],
        )
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Unprocessable("expires_at needs a time zone",
                                errors=[{"loc": ["body", "expires_at"], "msg": "naive datetime", "type": "timezone"}])
        now = await session.scalar(select(func.now()))
        if expires_at <= now:
            raise Unprocessable("expires_at must be in the future",
                                errors=[{"loc": ["body", "expires_at"], "msg": "in the past", "type": "past"}])
    secret = generate_api_key()
    key = ApiKey(org_id=principal.org_id, name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_api_key(secret),
                 scopes=sorted(set(scopes)), created_by_id=principal.user_id, expires_at=expires_at)
    session.add(key)
    await session.flush()
    await session.refresh(key, ["created_at"])
    await _audit_and_event(session, principal, entity_type="api_key", entity_id=key.id, action=AuditAction.create,
                           event_type="api_key.created", before=None, after=api_key_fields(key))
    return key, secret


async def get_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID, *,
                      lock: bool = False) -> ApiKey:
    require_admin_user(principal)
    return await one_or_404(session, _api_keys(principal).where(ApiKey.id == key_id),
                            "No API key with that id", lock=lock)


async def list_api_keys(session: AsyncSession, principal: Principal, *, include_revoked: bool, cursor: str | None,
                        limit: int) -> tuple[list[ApiKey], str | None]:
    require_admin_user(principal)
    stmt = _api_keys(principal)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    rows = (await session.scalars(keyset_page(stmt, [ApiKey.id], cursor=cursor, limit=limit))).all()
    return page_of(rows, limit, lambda k: [k.id])


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await get_api_key(session, principal, key_id, lock=True)
    if key.revoked_at is not None:
        return key
    before = api_key_fields(key)
    key.revoked_at = await session.scalar(select(func.now()))
    await session.flush()
    await _audit_and_event(session, principal, entity_type="api_key", entity_id=key.id,
                           action=AuditAction.state_change, event_type="api_key.revoked", before=before,
                           after=api_key_fields(key))
    return key


# ---------------------------------------------------------------------------------------
# Me


async def get_org(session: AsyncSession, principal: Principal) -> Org:
    org = await session.get(Org, principal.org_id)
    if org is None:
        raise NotFound("Your organisation no longer exists")
    return org


# ---------------------------------------------------------------------------------------
# Sessions (refresh-token families) of the signed-in user


def _require_user(principal: Principal) -> uuid.UUID:
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("Only a signed-in user has sessions")
    return principal.user_id


async def list_sessions(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The user's live sign-ins, newest first: families with an unspent, unexpired token."""
    user_id = _require_user(principal)
    rt = RefreshToken
    live = (rt.used_at.is_(None)) & (rt.expires_at > func.now())
    rows = (
        await session.execute(
            select(
                rt.family_id.label("id"),
                func.min(rt.issued_at).label("signed_in_at"),
                func.max(rt.issued_at).label("last_refreshed_at"),
                func.max(rt.expires_at).label("expires_at"),
                func.array_agg(aggregate_order_by(rt.user_agent, rt.issued_at.desc(), rt.id.desc()))[1].label("user_agent"),
                func.array_agg(aggregate_order_by(rt.address, rt.issued_at.desc(), rt.id.desc()))[1].label("address"),
            )
            .where(rt.org_id == principal.org_id, rt.user_id == user_id, rt.revoked_at.is_(None))
            .group_by(rt.family_id)
            .having(func.bool_or(live))
            .order_by(func.max(rt.issued_at).desc(), rt.family_id)
            .limit(200)
        )
    ).mappings().all()
    return [dict(r) for r in rows]


async def revoke_sessions(session: AsyncSession, principal: Principal, *, family_id: uuid.UUID | None) -> None:
    """Sign out one sign-in (404 if it is not the caller's live one) or, without an id, all."""
    user_id = _require_user(principal)
    stmt = (
        update(RefreshToken)
        .where(RefreshToken.org_id == principal.org_id, RefreshToken.user_id == user_id,
               RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    if family_id is not None:
        stmt = stmt.where(RefreshToken.family_id == family_id)
    result = await session.execute(stmt)
    if family_id is not None and not result.rowcount:
        raise NotFound("No active session with that id")
