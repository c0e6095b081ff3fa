"""analytics: stage summary and daily rollup (trigger-maintained), alert rules, alerts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 12:00:00

The stage summary is exact pre-aggregation of stage_interval: statement-level triggers
(with transition tables, so one bulk COPY is one set-based refresh) recompute the summary
rows of every opportunity a statement touched, in the same transaction; triggers on the
summary keep the daily rollup by adding the net delta. Definitions: docs/metrics.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME = postgresql.ENUM("advanced", "lost", "open", "moved", name="analytics_outcome", create_type=False)
COHORT = postgresql.ENUM("reached", "strict", name="analytics_cohort", create_type=False)
ALERT_KIND = postgresql.ENUM("stage_conversion_below", "stalled_deals_above", name="alert_kind", create_type=False)

# Recompute the summary rows of the given opportunities from their whole history.
# Per (opportunity, pipeline) and open stage S of that pipeline (positions order stages;
# a won stage counts as after every open stage, a lost stage as after none):
#   reached_at        first entry into S or any stage after it        (reached-mode cohort)
#   strict_entered_at first entry into S, if every earlier open stage was entered before it
#   outcome           advanced if a later stage was ever entered, else moved (now in another
#                     pipeline), lost, or open by the deal's current status
REFRESH_SQL = r"""
CREATE OR REPLACE FUNCTION analytics_refresh_opportunities(p_ids uuid[], p_org_ids uuid[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
    RETURN;
  END IF;
  -- The ids go in as literals: the planner then knows how many there are, so one id
  -- (a service write) and fifty thousand (a COPY) both get a fitting plan.
  -- First the touched deals' rows go (deleted deals are found through the org ids given),
  -- then they are rebuilt from the history; the rollup follows both by its triggers.
  EXECUTE format($q$
  DELETE FROM stage_summary s
  USING (SELECT o.org_id, o.id FROM opportunity o JOIN unnest(%L::uuid[]) AS ids(id) ON ids.id = o.id
         UNION SELECT org.id, ids.id FROM unnest(%L::uuid[]) AS ids(id), unnest(%L::uuid[]) AS org(id)) t
  WHERE s.org_id = t.org_id AND s.opportunity_id = t.id
  $q$, p_ids, p_ids, coalesce(p_org_ids, '{}'::uuid[]));
  EXECUTE format($q$
  WITH ids AS (
    SELECT DISTINCT u.id FROM unnest(%L::uuid[]) AS u(id)
  ), opp AS (
    SELECT o.id, o.org_id, o.pipeline_id AS cur_pipeline_id, o.status, o.source
    FROM opportunity o JOIN ids ON ids.id = o.id
  ), visit AS (
    SELECT i.org_id, i.opportunity_id, i.pipeline_id, i.stage_id,
           min(i.entered_at) AS first_at, max(i.entered_at) AS last_at, count(*) AS visits,
           count(i.exited_at) AS completed,
           coalesce(sum(extract(epoch FROM i.exited_at - i.entered_at)), 0)::float8 AS secs,
           max(i.entered_at) FILTER (WHERE i.exited_at IS NULL) AS open_at,
           (array_agg(i.owner_id ORDER BY i.entered_at, i.id))[1] AS owner_id,
           (array_agg(i.team_id ORDER BY i.entered_at, i.id))[1] AS team_id
    FROM stage_interval i JOIN opp o ON o.org_id = i.org_id AND o.id = i.opportunity_id
    GROUP BY 1, 2, 3, 4
  ), won AS (
    SELECT v.opportunity_id, v.pipeline_id, min(v.first_at) AS first_at, max(v.last_at) AS last_at
    FROM visit v JOIN stage s ON s.id = v.stage_id
    WHERE s.kind = 'won'
    GROUP BY 1, 2
  ), grid AS (
    SELECT p.org_id, p.opportunity_id, p.pipeline_id, s.id AS stage_id, s.position,
           v.first_at, v.last_at, v.visits, v.completed, v.secs, v.open_at, v.owner_id, v.team_id,
           w.first_at AS won_first, w.last_at AS won_last
    FROM (SELECT DISTINCT org_id, opportunity_id, pipeline_id FROM visit) p
    JOIN stage s ON s.org_id = p.org_id AND s.pipeline_id = p.pipeline_id AND s.kind = 'open'
    LEFT JOIN visit v ON v.opportunity_id = p.opportunity_id AND v.stage_id = s.id
    LEFT JOIN won w ON w.opportunity_id = p.opportunity_id AND w.pipeline_id = p.pipeline_id
  ), framed AS (
    SELECT g.*,
           least(min(g.first_at) OVER at_or_after, g.won_first) AS reached_at,
           least(min(g.first_at) OVER after, g.won_first) AS later_first,
           greatest(max(g.last_at) OVER after, g.won_last) AS later_last,
           max(coalesce(g.first_at, 'infinity'::timestamptz)) OVER before AS before_max
    FROM grid g
    WINDOW at_or_after AS (PARTITION BY g.opportunity_id, g.pipeline_id ORDER BY g.position DESC
                           RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           after AS (PARTITION BY g.opportunity_id, g.pipeline_id ORDER BY g.position DESC
                     RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           before AS (PARTITION BY g.opportunity_id, g.pipeline_id ORDER BY g.position
                      RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
  ), fresh AS (
    SELECT f.org_id, f.opportunity_id, f.stage_id, f.pipeline_id,
           coalesce(f.owner_id, r.owner_id) AS owner_id,
           CASE WHEN f.first_at IS NOT NULL THEN f.team_id ELSE r.team_id END AS team_id,
           o.source, f.reached_at,
           (CASE WHEN f.later_first IS NOT NULL THEN 'advanced'
                 WHEN o.cur_pipeline_id <> f.pipeline_id THEN 'moved'
                 WHEN o.status = 'lost' THEN 'lost'
                 WHEN o.status = 'won' THEN 'advanced'
                 ELSE 'open' END)::analytics_outcome AS outcome,
           strict.entered_at AS strict_entered_at,
           (CASE WHEN strict.entered_at IS NULL THEN NULL
                 WHEN f.later_last > f.first_at THEN 'advanced'
                 WHEN o.cur_pipeline_id <> f.pipeline_id THEN 'moved'
                 WHEN o.status = 'lost' THEN 'lost'
                 WHEN o.status = 'won' THEN 'advanced'
                 ELSE 'open' END)::analytics_outcome AS strict_outcome,
           f.first_at AS first_entered_at,
           coalesce(f.visits, 0)::int AS visits,
           coalesce(f.completed, 0)::int AS completed_visits,
           coalesce(f.secs, 0)::float8 AS completed_seconds,
           f.open_at AS open_entered_at
    FROM framed f
    JOIN opp o ON o.id = f.opportunity_id
    CROSS JOIN LATERAL (
      SELECT CASE WHEN f.first_at IS NOT NULL AND (f.before_max IS NULL OR f.before_max < f.first_at)
                  THEN f.first_at END AS entered_at
    ) strict
    -- A skipped stage is credited to whoever held the deal on the visit that reached past it.
    LEFT JOIN LATERAL (
      SELECT i.owner_id, i.team_id FROM stage_interval i
      WHERE f.first_at IS NULL AND i.org_id = f.org_id AND i.opportunity_id = f.opportunity_id
        AND i.entered_at = f.reached_at
      ORDER BY i.id LIMIT 1
    ) r ON true
    WHERE f.reached_at IS NOT NULL
  )
  INSERT INTO stage_summary (org_id, opportunity_id, stage_id, pipeline_id, owner_id, team_id, source,
      reached_at, outcome, strict_entered_at, strict_outcome, first_entered_at, visits, completed_visits,
      completed_seconds, open_entered_at)
  SELECT * FROM fresh
  $q$, p_ids);
END
$fn$;
"""

# The rollup delta of a set of summary rows with a sign: (+1) inserted / new, (-1) deleted / old.
_ROLLUP_ROWS = """
  SELECT org_id, pipeline_id, 'reached'::analytics_cohort AS cohort, (reached_at AT TIME ZONE 'UTC')::date AS day,
         stage_id, owner_id, team_id, source, outcome, {sign} AS sign FROM {table}
  UNION ALL
  SELECT org_id, pipeline_id, 'strict'::analytics_cohort, (strict_entered_at AT TIME ZONE 'UTC')::date,
         stage_id, owner_id, team_id, source, strict_outcome, {sign} FROM {table} WHERE strict_entered_at IS NOT NULL
"""


def _rollup_trigger_fn(name: str, parts: list[tuple[str, int]]) -> str:
    rows = " UNION ALL ".join(_ROLLUP_ROWS.format(table=t, sign=s) for t, s in parts)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO stage_rollup AS r (org_id, pipeline_id, cohort, day, stage_id, owner_id, team_id, source,
                                 entered, advanced, lost, open, moved)
  SELECT org_id, pipeline_id, cohort, day, stage_id, owner_id, team_id, source,
         sum(sign),
         coalesce(sum(sign) FILTER (WHERE outcome = 'advanced'), 0),
         coalesce(sum(sign) FILTER (WHERE outcome = 'lost'), 0),
         coalesce(sum(sign) FILTER (WHERE outcome = 'open'), 0),
         coalesce(sum(sign) FILTER (WHERE outcome = 'moved'), 0)
  FROM ({rows}) d
  GROUP BY org_id, pipeline_id, cohort, day, stage_id, owner_id, team_id, source
  -- Rows whose old and new versions fall in the same key and outcome cancel out.
  HAVING sum(sign) <> 0
      OR coalesce(sum(sign) FILTER (WHERE outcome = 'advanced'), 0) <> 0
      OR coalesce(sum(sign) FILTER (WHERE outcome = 'lost'), 0) <> 0
      OR coalesce(sum(sign) FILTER (WHERE outcome = 'open'), 0) <> 0
      OR coalesce(sum(sign) FILTER (WHERE outcome = 'moved'), 0) <> 0
  -- A fixed order keeps concurrent writers from deadlocking on rollup rows.
  ORDER BY org_id, pipeline_id, cohort, day, stage_id, owner_id, team_id, source
  ON CONFLICT (org_id, pipeline_id, cohort, day, stage_id, owner_id, team_id, source) DO UPDATE SET
    entered = r.entered + excluded.entered,
    advanced = r.advanced + excluded.advanced,
    lost = r.lost + excluded.lost,
    open = r.open + excluded.open,
    moved = r.moved + excluded.moved;
  RETURN NULL;
END
$fn$;
"""


TRIGGERS_SQL = [
    REFRESH_SQL,
    # Every statement on stage_interval refreshes the opportunities it touched.
    """
CREATE OR REPLACE FUNCTION analytics_interval_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE ids uuid[]; orgs uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT opportunity_id) INTO ids FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT opportunity_id), array_agg(DISTINCT org_id) INTO ids, orgs FROM old_rows;
  ELSE
    SELECT array_agg(DISTINCT opportunity_id), array_agg(DISTINCT org_id) INTO ids, orgs
    FROM (SELECT opportunity_id, org_id FROM new_rows UNION SELECT opportunity_id, org_id FROM old_rows) t;
  END IF;
  PERFORM analytics_refresh_opportunities(ids, orgs);
  RETURN NULL;
END
$fn$;
""",
    "CREATE TRIGGER analytics_interval_insert AFTER INSERT ON stage_interval REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_interval_changed()",
    "CREATE TRIGGER analytics_interval_update AFTER UPDATE ON stage_interval REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_interval_changed()",
    "CREATE TRIGGER analytics_interval_delete AFTER DELETE ON stage_interval REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_interval_changed()",
    # The outcome and the source come from the opportunity row.
    """
CREATE OR REPLACE FUNCTION analytics_opportunity_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE ids uuid[];
BEGIN
  SELECT array_agg(n.id) INTO ids
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE (n.status, n.pipeline_id, n.source) IS DISTINCT FROM (o.status, o.pipeline_id, o.source);
  PERFORM analytics_refresh_opportunities(ids);
  RETURN NULL;
END
$fn$;
""",
    "CREATE TRIGGER analytics_opportunity_update AFTER UPDATE ON opportunity REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_opportunity_changed()",
    # A stage added, removed, re-ordered or re-kinded changes what "later" means: refresh
    # the pipeline's opportunities (rare, administrative).
    """
CREATE OR REPLACE FUNCTION analytics_stage_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE ids uuid[];
BEGIN
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(DISTINCT i.opportunity_id) INTO ids
    FROM stage_interval i
    JOIN (SELECT DISTINCT n.org_id, n.pipeline_id FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE (n.position, n.kind, n.pipeline_id) IS DISTINCT FROM (o.position, o.kind, o.pipeline_id)) p
      ON p.org_id = i.org_id AND p.pipeline_id = i.pipeline_id;
  ELSIF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT i.opportunity_id) INTO ids
    FROM stage_interval i JOIN (SELECT DISTINCT org_id, pipeline_id FROM new_rows) p
      ON p.org_id = i.org_id AND p.pipeline_id = i.pipeline_id;
  ELSE
    SELECT array_agg(DISTINCT i.opportunity_id) INTO ids
    FROM stage_interval i JOIN (SELECT DISTINCT org_id, pipeline_id FROM old_rows) p
      ON p.org_id = i.org_id AND p.pipeline_id = i.pipeline_id;
  END IF;
  PERFORM analytics_refresh_opportunities(ids);
  RETURN NULL;
END
$fn$;
""",
    "CREATE TRIGGER analytics_stage_insert AFTER INSERT ON stage REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_stage_changed()",
    "CREATE TRIGGER analytics_stage_update AFTER UPDATE ON stage REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_stage_changed()",
    "CREATE TRIGGER analytics_stage_delete AFTER DELETE ON stage REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_stage_changed()",
    # The rollup follows the summary by net deltas.
    _rollup_trigger_fn("analytics_summary_inserted", [("new_rows", 1)]),
    _rollup_trigger_fn("analytics_summary_deleted", [("old_rows", -1)]),
    _rollup_trigger_fn("analytics_summary_updated", [("new_rows", 1), ("old_rows", -1)]),
    "CREATE TRIGGER analytics_summary_insert AFTER INSERT ON stage_summary REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_summary_inserted()",
    "CREATE TRIGGER analytics_summary_update AFTER UPDATE ON stage_summary REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_summary_updated()",
    "CREATE TRIGGER analytics_summary_delete AFTER DELETE ON stage_summary REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_summary_deleted()",
]

DROP_SQL = [
    "DROP TRIGGER IF EXISTS analytics_summary_delete ON stage_summary",
    "DROP TRIGGER IF EXISTS analytics_summary_update ON stage_summary",
    "DROP TRIGGER IF EXISTS analytics_summary_insert ON stage_summary",
    "DROP TRIGGER IF EXISTS analytics_stage_delete ON stage",
    "DROP TRIGGER IF EXISTS analytics_stage_update ON stage",
    "DROP TRIGGER IF EXISTS analytics_stage_insert ON stage",
    "DROP TRIGGER IF EXISTS analytics_opportunity_update ON opportunity",
    "DROP TRIGGER IF EXISTS analytics_interval_delete ON stage_interval",
    "DROP TRIGGER IF EXISTS analytics_interval_update ON stage_interval",
    "DROP TRIGGER IF EXISTS analytics_interval_insert ON stage_interval",
    "DROP FUNCTION IF EXISTS analytics_summary_updated()",
    "DROP FUNCTION IF EXISTS analytics_summary_deleted()",
    "DROP FUNCTION IF EXISTS analytics_summary_inserted()",
    "DROP FUNCTION IF EXISTS analytics_stage_changed()",
    "DROP FUNCTION IF EXISTS analytics_opportunity_changed()",
    "DROP FUNCTION IF EXISTS analytics_interval_changed()",
    "DROP FUNCTION IF EXISTS analytics_refresh_opportunities(uuid[], uuid[])",
]


def upgrade() -> None:
    bind = op.get_bind()
    for enum in (OUTCOME, COHORT, ALERT_KIND):
        enum.create(bind, checkfirst=True)

    op.create_table(
        "stage_summary",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("opportunity_id", sa.UUID(), nullable=False),
        sa.Column("stage_id", sa.UUID(), nullable=False),
        sa.Column("pipeline_id", sa.UUID(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("team_id", sa.UUID(), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", OUTCOME, nullable=False),
        sa.Column("strict_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("strict_outcome", OUTCOME, nullable=True),
        sa.Column("first_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("completed_visits", sa.Integer(), nullable=False),
        sa.Column("completed_seconds", sa.Double(), nullable=False),
        sa.Column("open_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "opportunity_id", "stage_id", name=op.f("pk_stage_summary")),
    )
    op.create_index(
        "ix_stage_summary_org_id_pipeline_id_first_entered_at", "stage_summary",
        ["org_id", "pipeline_id", "first_entered_at"], unique=False,
        postgresql_include=["stage_id", "owner_id", "team_id", "source", "visits", "completed_visits", "completed_seconds"],
        postgresql_where=sa.text("first_entered_at IS NOT NULL"),
    )
    op.create_index(
        "ix_stage_summary_org_id_pipeline_id_stage_id_open", "stage_summary",
        ["org_id", "pipeline_id", "stage_id"], unique=False,
        postgresql_include=["open_entered_at", "owner_id", "team_id", "source"],
        postgresql_where=sa.text("open_entered_at IS NOT NULL"),
    )
    op.create_table(
        "stage_rollup",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("pipeline_id", sa.UUID(), nullable=False),
        sa.Column("cohort", COHORT, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.UUID(), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("team_id", sa.UUID(), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=True),
        sa.Column("entered", sa.BigInteger(), nullable=False),
        sa.Column("advanced", sa.BigInteger(), nullable=False),
        sa.Column("lost", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.BigInteger(), nullable=False),
        sa.Column("moved", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_stage_rollup_org_id_org"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_rollup")),
    )
    op.create_index(
        "uq_stage_rollup_key", "stage_rollup",
        ["org_id", "pipeline_id", "cohort", "day", "stage_id", "owner_id", "team_id", "source"],
        unique=True, postgresql_nulls_not_distinct=True,
    )

    op.create_table(
        "alert_rule",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", ALERT_KIND, nullable=False),
        sa.Column("pipeline_id", sa.UUID(), nullable=True),
        sa.Column("stage_id", sa.UUID(), nullable=True),
        sa.Column("threshold", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("window_days", sa.Integer(), server_default=sa.text("30"), nullable=False),
        sa.Column("stalled_after_days", sa.Integer(), nullable=True),
        sa.Column("min_entered", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_alert_rule_org_id_org"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipeline.id"], name=op.f("fk_alert_rule_pipeline_id_pipeline"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["stage_id"], ["stage.id"], name=op.f("fk_alert_rule_stage_id_stage"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
    )
    op.create_index("ix_alert_rule_org_id_created_at_id", "alert_rule", ["org_id", "created_at", "id"], unique=False)
    op.create_table(
        "alert",
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.UUID(), nullable=False),
        sa.Column("subject_key", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("subject", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_alert_org_id_org"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rule.id"], name=op.f("fk_alert_rule_id_alert_rule"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index("ix_alert_org_id_triggered_at_id", "alert", ["org_id", "triggered_at", "id"], unique=False)
    op.create_index("uq_alert_rule_id_subject_key_open", "alert", ["rule_id", "subject_key"], unique=True,
                    postgresql_where=sa.text("resolved_at IS NULL"))

    # Figures on the opportunity table: closed deals by close date, open deals by stage.
    op.create_index("ix_opportunity_org_id_closed_at", "opportunity", ["org_id", "closed_at"], unique=False,
                    postgresql_where=sa.text("closed_at IS NOT NULL"))

    op.create_index(
        "ix_stage_interval_org_id_pipeline_id_entered_at_done", "stage_interval",
        ["org_id", "pipeline_id", "entered_at"], unique=False,
        postgresql_include=["stage_id", "exited_at", "owner_id", "team_id"],
        postgresql_where=sa.text("exited_at IS NOT NULL"),
    )

    for statement in TRIGGERS_SQL:
        op.execute(statement)
    # History that exists before this migration is summarised once, here.
    op.execute("SELECT analytics_refresh_opportunities(array_agg(id)) FROM opportunity")


def downgrade() -> None:
    for statement in DROP_SQL:
        op.execute(statement)
    op.drop_index("ix_stage_interval_org_id_pipeline_id_entered_at_done", table_name="stage_interval",
                  postgresql_where=sa.text("exited_at IS NOT NULL"))
    op.drop_index("ix_opportunity_org_id_closed_at", table_name="opportunity",
                  postgresql_where=sa.text("closed_at IS NOT NULL"))
    op.drop_index("uq_alert_rule_id_subject_key_open", table_name="alert", postgresql_where=sa.text("resolved_at IS NULL"))
    op.drop_index("ix_alert_org_id_triggered_at_id", table_name="alert")
    op.drop_table("alert")
    op.drop_index("ix_alert_rule_org_id_created_at_id", table_name="alert_rule")
    op.drop_table("alert_rule")
    op.drop_index("uq_stage_rollup_key", table_name="stage_rollup")
    op.drop_table("stage_rollup")
    op.drop_index("ix_stage_summary_org_id_pipeline_id_stage_id_open", table_name="stage_summary",
                  postgresql_where=sa.text("open_entered_at IS NOT NULL"))
    op.drop_index("ix_stage_summary_org_id_pipeline_id_first_entered_at", table_name="stage_summary",
                  postgresql_where=sa.text("first_entered_at IS NOT NULL"))
    op.drop_table("stage_summary")
    for name in ("alert_kind", "analytics_cohort", "analytics_outcome"):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
