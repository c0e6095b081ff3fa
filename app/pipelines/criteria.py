"""Stage entry criteria: what must hold before a deal may enter a stage.

Criteria are stored on the stage as JSON (validated by `schemas.Criterion`). Most are
about the deal itself (`field_set`, `amount_at_least`) or the move (`note_required`).
Conditions owned by other domains go through the external-check registry: a domain
registers an async function under a name, and stages refer to it as
`{"type": "external", "check": "<name>"}`. A check that is declared but not registered
yet (e.g. `quote_accepted` before the quotes domain exists) is reported as `pending` on
the stage and not enforced, so the default pipeline can name it from day one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.principal import Principal

# (session, principal, opportunity row as a mapping) -> None when met, else why not.
ExternalCheckFn = Callable[[AsyncSession, Principal, Mapping[str, Any]], Awaitable[str | None]]


@dataclass
class ExternalCheck:
    name: str
    description: str
    fn: ExternalCheckFn | None = None


_REGISTRY: dict[str, ExternalCheck] = {}


def declare_external_check(name: str, description: str) -> None:
    """Make a name usable in stage criteria before its owner registers the function."""
    _REGISTRY.setdefault(name, ExternalCheck(name, description))


def register_external_check(name: str, fn: ExternalCheckFn, description: str | None = None) -> None:
    """Called by the owning domain at import time (e.g. quotes: `quote_accepted`)."""
    existing = _REGISTRY.get(name)
    _REGISTRY[name] = ExternalCheck(name, description or (existing.description if existing else name), fn)


def unregister_external_check(name: str) -> None:
    """Back to declared-only (tests)."""
    if name in _REGISTRY:
        _REGISTRY[name].fn = None


def known_external_checks() -> set[str]:
    return set(_REGISTRY)


def is_enforced(name: str) -> bool:
    check = _REGISTRY.get(name)
    return bool(check and check.fn)


declare_external_check("quote_accepted", "A quote of the deal has been accepted by the customer")


FIELD_LABELS = {
    "amount": "amount",
    "expected_close_date": "expected close date",
    "account_id": "account",
    "source": "source",
    "description": "description",
    "tags": "tags",
}


def _is_set(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()


async def unmet_criteria(
    session: AsyncSession,
    principal: Principal,
    criteria: list[dict[str, Any]],
    opportunity: Mapping[str, Any],
    *,
    note: str | None,
) -> list[dict[str, Any]]:
    """Every criterion of the target stage the deal does not meet, each with a message."""
    unmet: list[dict[str, Any]] = []
    for criterion in criteria:
        kind = criterion.get("type")
        message: str | None = None
        if kind == "field_set":
            field = criterion["field"]
            if not _is_set(opportunity.get(field)):
                message = f"The {FIELD_LABELS.get(field, field)} must be set"
        elif kind == "amount_at_least":
            amount = opportunity.get("amount")
            if amount is None or Decimal(str(amount)) < Decimal(str(criterion["value"])):
                message = f"The amount must be at least {criterion['value']}"
        elif kind == "note_required":
            if not (note and note.strip()):
                message = "This stage needs a note on the move"
        elif kind == "external":
            check = _REGISTRY.get(criterion["check"])
            if check and check.fn:
                message = await check.fn(session, principal, opportunity)
        if message:
            unmet.append({**criterion, "message": criterion.get("message") or message})
    return unmet


def describe(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Criteria as shown on a stage: external ones say whether they are enforced yet."""
    out = []
    for c in criteria:
        if c.get("type") == "external":
            c = {**c, "status": "enforced" if is_enforced(c["check"]) else "pending"}
        out.append(c)
    return out


def opportunity_id_of(opportunity: Mapping[str, Any]) -> uuid.UUID:
    return opportunity["id"]
