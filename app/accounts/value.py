"""Worker job: customer value classes. Per organisation, accounts are ranked by their
trailing-12-month won amount; those making up the top 80% of revenue are A, the next 15%
B, the rest (and accounts with no won deal) C. One set-based UPDATE; an event for each
account whose class changed.

Amounts are summed as recorded; organisations selling in several currencies should
classify per currency (not done yet: documented in docs/leads.md)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import record_event

CLASSIFY = text("""
WITH due_org AS (  -- at most hourly per organisation
    SELECT DISTINCT org_id FROM account
    WHERE (value_computed_at IS NULL OR value_computed_at <= now() - make_interval(mins => :max_age))
      AND (CAST(:org AS uuid) IS NULL OR org_id = CAST(:org AS uuid))
), won AS (
    SELECT a.org_id, a.id, coalesce(sum(o.amount) FILTER (
               WHERE o.status = 'won' AND o.closed_at >= now() - interval '12 months'), 0) AS amount
    FROM account a JOIN due_org d ON d.org_id = a.org_id
    LEFT JOIN opportunity o ON o.org_id = a.org_id AND o.account_id = a.id AND o.deleted_at IS NULL
    GROUP BY a.org_id, a.id
), ranked AS (
    SELECT org_id, id, amount,
           sum(amount) OVER (PARTITION BY org_id ORDER BY amount DESC, id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before,
           sum(amount) OVER (PARTITION BY org_id) AS total
    FROM won
), classified AS (
    SELECT id, amount,
           CASE WHEN amount <= 0 OR total <= 0 THEN 'C'
                WHEN coalesce(before, 0) < 0.80 * total THEN 'A'
                WHEN coalesce(before, 0) < 0.95 * total THEN 'B'
                ELSE 'C' END AS value_class
    FROM ranked
), changed AS (
    UPDATE account a SET value_class = c.value_class, won_amount_12m = c.amount, value_computed_at = now()
    FROM classified c, account old
    WHERE a.id = c.id AND old.id = a.id
    RETURNING a.org_id, a.id, a.name, old.value_class AS previous, c.value_class, c.amount
)
SELECT org_id, id, name, previous, value_class, amount FROM changed
""")


async def classify_accounts(session: AsyncSession, settings: Any, *, max_age_minutes: int = 60,
                            org_id: uuid.UUID | None = None) -> int:
    """Every organisation due (the worker), or just `org_id`: one the caller is creating in
    its own transaction (the demo seed), which no worker can see, so no lock is needed."""
    # One worker at a time; the others skip this round.
    if org_id is None and not (await session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext('account-value-classes'))"))).scalar_one():
        return 0
    rows = (await session.execute(CLASSIFY, {"max_age": max_age_minutes, "org": org_id})).all()
    for org_id, account_id, name, previous, value_class, amount in rows:
        if previous != value_class:
            await record_event(session, org_id=org_id, type="account.value_class_changed", entity_type="account",
                               entity_id=account_id, actor_id=None, payload={
                                   "account_id": account_id, "name": name, "previous": previous,
                                   "value_class": value_class, "won_amount_12m": amount})
    return len(rows)
