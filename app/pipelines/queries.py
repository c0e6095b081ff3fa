"""The opportunity read model: one statement joins the deal with its current stage, so
a read is a single round trip; tenant scoping and visibility in one helper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Interval, and_, bindparam, func, select

from app.identity.principal import Principal, visible_owner_clause
from app.pipelines.models import Opportunity, Stage

o = Opportunity.__table__
s = Stage.__table__

STALLED_SINCE = o.c.stage_entered_at + func.make_interval(0, 0, 0, s.c.sla_days, type_=Interval)
IS_STALLED = and_(o.c.status == "open", s.c.sla_days.is_not(None), STALLED_SINCE < func.now())

OPP_FIELDS = (
    "id", "name", "owner_id", "team_id", "account_id", "lead_id", "pipeline_id", "stage_id", "status", "amount",
    "currency", "expected_close_date", "source", "tags", "description", "lost_reason_id",
    "stage_entered_at", "closed_at", "version", "created_at", "updated_at",
)
VIEW_COLUMNS = [
    *(o.c[name] for name in OPP_FIELDS),
    s.c.name.label("stage_name"),
    s.c.labels.label("stage_labels"),
    s.c.kind.label("stage_kind"),
    s.c.probability.label("stage_probability"),
    s.c.sla_days.label("stage_sla_days"),
]
FROM = o.join(s, s.c.id == o.c.stage_id)


def scope(principal: Principal) -> list[ColumnElement[bool]]:
    """Every read and write of opportunities goes through this: the org, not deleted,
    and the principal's record visibility."""
    return [o.c.org_id == principal.org_id, o.c.deleted_at.is_(None), visible_owner_clause(principal, o.c.owner_id)]


def view_select() -> Any:
    return select(*VIEW_COLUMNS).select_from(FROM)


@lru_cache(maxsize=4096)
def read_one_statement(principal: Principal) -> Any:
    """GET by id, built once per principal: SQLAlchemy then reuses its compiled form and
    cache key, so a read pays for execution only (the id is the one bound parameter)."""
    return view_select().where(o.c.id == bindparam("opportunity_id"), *scope(principal))


def stalled_since(entered_at: dt.datetime, sla_days: int | None) -> dt.datetime | None:
    return entered_at + dt.timedelta(days=sla_days) if sla_days else None


def opportunity_view(row: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """The API shape of a deal from a row of VIEW_COLUMNS (the stalled flag uses the
    same rule as the SQL filter)."""
    now = now or dt.datetime.now(dt.UTC)
    status = row["status"]
    since = stalled_since(row["stage_entered_at"], row["stage_sla_days"])
    stalled = since is not None and status == "open" and since < now
    return {
        "id": row["id"], "name": row["name"], "owner_id": row["owner_id"], "team_id": row["team_id"],
        "account_id": row["account_id"], "lead_id": row["lead_id"], "pipeline_id": row["pipeline_id"], "stage_id": row["stage_id"],
        "stage": {
            "id": row["stage_id"], "name": row["stage_name"], "labels": row["stage_labels"],
            "kind": row["stage_kind"], "probability": row["stage_probability"],
        },
        "status": status, "amount": row["amount"], "currency": row["currency"],
        "expected_close_date": row["expected_close_date"], "source": row["source"], "tags": row["tags"],
        "description": row["description"], "lost_reason_id": row["lost_reason_id"],
        "stage_entered_at": row["stage_entered_at"], "closed_at": row["closed_at"],
        "stalled": stalled, "stalled_since": since if stalled else None,
        "version": row["version"], "created_at": row["created_at"], "updated_at": row["updated_at"],
    }
