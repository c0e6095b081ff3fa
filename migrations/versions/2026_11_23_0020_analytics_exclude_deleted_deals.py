"""analytics: soft-deleted deals leave every rollup and histogram

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-23 19:00:00

A deal whose deleted_at is set (DELETE /v1/opportunities/{id}) no longer counts in any
sales figure; clearing deleted_at brings it back. Deletion is handled as the triggers of
0012/0013 handle a change of status, pipeline or source, in the same transaction and set
based (statement-level triggers with transition tables):

- stage_summary: the refresh builds rows only for deals not deleted, and a change of
  deleted-ness is one of the opportunity changes that refresh a deal; stage_rollup and the
  summary's duration-histogram figures (deal, open) follow the summary by their triggers.
- duration_histogram, sales cycle (won/lost): counts only deals not deleted; the update
  trigger's old/new rows then move a deal out and back in.
- duration_histogram, per visit: a visit counts only while its deal is not deleted; the
  opportunity update trigger takes a deal's completed visits out (or back in) when its
  deleted-ness changes.
- A soft-deleted deal hard-deleted later (administrative only, the API never does): the
  cascade removing its visits finds no deal and subtracts them, so a row trigger gated on
  OLD.deleted_at IS NOT NULL adds them back first (per row, but only on that rare path).

The downgrade restores the 0012/0013 function bodies and puts deleted deals back in.
Definitions: docs/metrics.md.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sibling(stem: str) -> ModuleType:
    path = Path(__file__).with_name(f"{stem}.py")
    spec = importlib.util.spec_from_file_location(f"_migration_{stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M0012 = _sibling("2026_11_23_0012_analytics")
M0013 = _sibling("2026_11_23_0013_duration_histogram")

_REBUILD = "  EXECUTE format($q$\n  WITH ids AS ("
assert M0012.REFRESH_SQL.count(_REBUILD) == 1
# The DELETE before it still clears a deleted deal's rows; the rebuild then gets only the
# deals not deleted, as literal ids again (a filter inside the rebuild would leave the
# planner guessing how many deals pass it, and a bad guess is slow for a bulk COPY).
REFRESH_SQL = M0012.REFRESH_SQL.replace(_REBUILD, """  SELECT array_agg(o.id) INTO p_ids
  FROM unnest(p_ids) AS u(id) JOIN opportunity o ON o.id = u.id WHERE o.deleted_at IS NULL;
  IF p_ids IS NULL THEN
    RETURN;
  END IF;
""" + _REBUILD)

OPPORTUNITY_CHANGED_0012 = next(s for s in M0012.TRIGGERS_SQL if "FUNCTION analytics_opportunity_changed()" in s)
OPPORTUNITY_CHANGED_SQL = """
CREATE OR REPLACE FUNCTION analytics_opportunity_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE ids uuid[];
BEGIN
  -- Deleting or restoring a deal changes its summary rows as a status change does.
  SELECT array_agg(n.id) INTO ids
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE (n.status, n.pipeline_id, n.source, n.deleted_at IS NULL)
        IS DISTINCT FROM (o.status, o.pipeline_id, o.source, o.deleted_at IS NULL);
  PERFORM analytics_refresh_opportunities(ids);
  RETURN NULL;
END
$fn$;
"""

# The duration-histogram rows of 0013 (same columns), counting only deals not deleted.
VISIT_ROWS = """
  SELECT t.org_id, t.pipeline_id, 'visit'::duration_figure AS figure, t.stage_id, (t.entered_at AT TIME ZONE 'UTC')::date AS day,
         analytics_span_bucket(t.entered_at, t.exited_at) AS bucket, extract(epoch FROM t.exited_at - t.entered_at) AS secs,
         {sign} AS sign
  FROM {table} t WHERE t.exited_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM opportunity d WHERE d.id = t.opportunity_id AND d.deleted_at IS NOT NULL)
"""
CYCLE_ROWS = """
  SELECT org_id, pipeline_id, status::text::duration_figure AS figure, NULL::uuid AS stage_id,
         (closed_at AT TIME ZONE 'UTC')::date AS day, analytics_span_bucket(created_at, closed_at) AS bucket,
         extract(epoch FROM closed_at - created_at) AS secs, {sign} AS sign
  FROM {table} WHERE closed_at IS NOT NULL AND status IN ('won', 'lost') AND deleted_at IS NULL
"""
# The completed visits of the deals whose deleted-ness a statement changed: out when
# deleted (-1), back in when restored (+1).
FLIPPED_VISIT_ROWS = """
  SELECT i.org_id, i.pipeline_id, 'visit'::duration_figure AS figure, i.stage_id, (i.entered_at AT TIME ZONE 'UTC')::date AS day,
         analytics_span_bucket(i.entered_at, i.exited_at) AS bucket, extract(epoch FROM i.exited_at - i.entered_at) AS secs,
         CASE WHEN n.deleted_at IS NULL THEN 1 ELSE -1 END AS sign
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  JOIN stage_interval i ON i.org_id = n.org_id AND i.opportunity_id = n.id
  WHERE (n.deleted_at IS NULL) <> (o.deleted_at IS NULL) AND i.exited_at IS NOT NULL
"""


def _rows(template: str, parts: list[tuple[str, int]]) -> str:
    return " UNION ALL ".join(template.format(table=t, sign=s) for t, s in parts)


HISTOGRAM_SQL = [
    M0013.histogram_fn("analytics_histogram_stage_interval_new_rows", _rows(VISIT_ROWS, [("new_rows", 1)])),
    M0013.histogram_fn("analytics_histogram_stage_interval_new_rows_old_rows",
                       _rows(VISIT_ROWS, [("new_rows", 1), ("old_rows", -1)])),
    M0013.histogram_fn("analytics_histogram_stage_interval_old_rows", _rows(VISIT_ROWS, [("old_rows", -1)])),
    M0013.histogram_fn("analytics_histogram_opportunity_new_rows", _rows(CYCLE_ROWS, [("new_rows", 1)])),
    M0013.histogram_fn("analytics_histogram_opportunity_new_rows_old_rows",
                       _rows(CYCLE_ROWS, [("new_rows", 1), ("old_rows", -1)]) + " UNION ALL " + FLIPPED_VISIT_ROWS),
    M0013.histogram_fn("analytics_histogram_opportunity_old_rows", _rows(CYCLE_ROWS, [("old_rows", -1)])),
]
HISTOGRAM_0013 = [body for table, _op, _fn, body, _ref in M0013.TRIGGERS if table in ("stage_interval", "opportunity")]

PURGED_SQL = [
    """
CREATE OR REPLACE FUNCTION analytics_histogram_deleted_opportunity_purged() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO duration_histogram AS h (org_id, pipeline_id, figure, day, stage_id, bucket, n, total)
  SELECT i.org_id, i.pipeline_id, 'visit', (i.entered_at AT TIME ZONE 'UTC')::date, i.stage_id,
         analytics_span_bucket(i.entered_at, i.exited_at), count(*), sum(extract(epoch FROM i.exited_at - i.entered_at))
  FROM stage_interval i
  WHERE i.org_id = OLD.org_id AND i.opportunity_id = OLD.id AND i.exited_at IS NOT NULL
  GROUP BY 1, 2, 4, 5, 6
  ORDER BY 1, 2, 4, 5, 6
  ON CONFLICT (org_id, pipeline_id, figure, day, stage_id, bucket) DO UPDATE SET
    n = h.n + excluded.n, total = h.total + excluded.total;
  RETURN OLD;
END
$fn$;
""",
    "CREATE TRIGGER analytics_histogram_deleted_opportunity_purged BEFORE DELETE ON opportunity FOR EACH ROW "
    "WHEN (OLD.deleted_at IS NOT NULL) EXECUTE FUNCTION analytics_histogram_deleted_opportunity_purged()",
]


def _deleted_deals_histogram(sign: int) -> str:
    """Takes the deals already deleted out of the histogram (-1), or puts them back (+1)."""
    rows = """
  SELECT i.org_id, i.pipeline_id, 'visit'::duration_figure AS figure, i.stage_id, (i.entered_at AT TIME ZONE 'UTC')::date AS day,
         analytics_span_bucket(i.entered_at, i.exited_at) AS bucket, extract(epoch FROM i.exited_at - i.entered_at) AS secs
  FROM stage_interval i JOIN opportunity o ON o.org_id = i.org_id AND o.id = i.opportunity_id
  WHERE o.deleted_at IS NOT NULL AND i.exited_at IS NOT NULL
  UNION ALL
  SELECT org_id, pipeline_id, status::text::duration_figure, NULL::uuid, (closed_at AT TIME ZONE 'UTC')::date,
         analytics_span_bucket(created_at, closed_at), extract(epoch FROM closed_at - created_at)
  FROM opportunity WHERE deleted_at IS NOT NULL AND closed_at IS NOT NULL AND status IN ('won', 'lost')
"""
    return f"""
INSERT INTO duration_histogram AS h (org_id, pipeline_id, figure, day, stage_id, bucket, n, total)
SELECT org_id, pipeline_id, figure, day, stage_id, bucket, {sign} * count(*), {sign} * sum(secs)
FROM ({rows}) d
GROUP BY org_id, pipeline_id, figure, day, stage_id, bucket
ON CONFLICT (org_id, pipeline_id, figure, day, stage_id, bucket) DO UPDATE SET
  n = h.n + excluded.n, total = h.total + excluded.total
"""


REFRESH_DELETED = "SELECT analytics_refresh_opportunities(array_agg(id)) FROM opportunity WHERE deleted_at IS NOT NULL"


def upgrade() -> None:
    # Deals deleted before this migration leave the histogram once, under the old triggers.
    op.execute(_deleted_deals_histogram(-1))
    for statement in [REFRESH_SQL, OPPORTUNITY_CHANGED_SQL, *HISTOGRAM_SQL, *PURGED_SQL]:
        op.execute(statement)
    op.execute(REFRESH_DELETED)  # their summary rows go, and the rollup follows


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS analytics_histogram_deleted_opportunity_purged ON opportunity")
    op.execute("DROP FUNCTION IF EXISTS analytics_histogram_deleted_opportunity_purged()")
    for statement in [M0012.REFRESH_SQL, OPPORTUNITY_CHANGED_0012, *HISTOGRAM_0013]:
        op.execute(statement)
    op.execute(REFRESH_DELETED)
    op.execute(_deleted_deals_histogram(1))
