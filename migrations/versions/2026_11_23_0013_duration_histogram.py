"""analytics: duration histogram (per figure, stage, day, log-duration bucket)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 15:00:00

Exact percentiles of time in stage without sorting a whole period: duration_histogram
counts the values of each duration figure per (stage, UTC day, log2-eighth bucket of the
duration), with their exact sum, kept by statement-level triggers on stage_interval,
stage_summary and opportunity in the same transaction as the rows they count. A query
sums the histogram over the period, finds the bucket holding each percentile's rank and
reads only that bucket's values through an index keyed by the same bucket. Definitions
and the fallback for filtered reports: docs/metrics.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURE = postgresql.ENUM("visit", "deal", "open", "won", "lost", name="duration_figure", create_type=False)

FUNCTIONS_SQL = [
    # Eight buckets per doubling; everything under a second in bucket 0. Non-decreasing in
    # secs, so a bucket's values all sort before the next bucket's.
    """
CREATE OR REPLACE FUNCTION analytics_duration_bucket(secs float8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN secs < 1 THEN 0 ELSE 1 + floor(8 * ln(secs) / ln(2))::int END $$
""",
    # The same bucket of b - a, spelled out: index builds run with a search_path that
    # finds only pg_catalog (PostgreSQL 17), so the body calls nothing of ours.
    """
CREATE OR REPLACE FUNCTION analytics_span_bucket(a timestamptz, b timestamptz) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN extract(epoch FROM b - a)::float8 < 1 THEN 0
               ELSE 1 + floor(8 * ln(extract(epoch FROM b - a)::float8) / ln(2))::int END $$
""",
]

# The histogram rows of a set of source rows, with a sign: +1 new rows, -1 old rows.
# figure, stage_id (NULL for the sales cycle), day, bucket, secs (the exact value).
SOURCE_ROWS = {
    "stage_interval": """
  SELECT org_id, pipeline_id, 'visit'::duration_figure AS figure, stage_id, (entered_at AT TIME ZONE 'UTC')::date AS day,
         analytics_span_bucket(entered_at, exited_at) AS bucket, extract(epoch FROM exited_at - entered_at) AS secs,
         {sign} AS sign
  FROM {table} WHERE exited_at IS NOT NULL
""",
    "stage_summary": """
  SELECT org_id, pipeline_id, 'deal'::duration_figure AS figure, stage_id, (first_entered_at AT TIME ZONE 'UTC')::date AS day,
         analytics_duration_bucket(completed_seconds) AS bucket, completed_seconds::numeric AS secs, {sign} AS sign
  FROM {table} WHERE first_entered_at IS NOT NULL AND completed_visits = visits
  UNION ALL
  -- Open visits: by entry day only (the age's order is the reverse of the entry's).
  SELECT org_id, pipeline_id, 'open'::duration_figure, stage_id, (open_entered_at AT TIME ZONE 'UTC')::date,
         0, extract(epoch FROM open_entered_at), {sign}
  FROM {table} WHERE open_entered_at IS NOT NULL
""",
    "opportunity": """
  SELECT org_id, pipeline_id, status::text::duration_figure AS figure, NULL::uuid AS stage_id,
         (closed_at AT TIME ZONE 'UTC')::date AS day, analytics_span_bucket(created_at, closed_at) AS bucket,
         extract(epoch FROM closed_at - created_at) AS secs, {sign} AS sign
  FROM {table} WHERE closed_at IS NOT NULL AND status IN ('won', 'lost')
""",
}


def _trigger_fn(source: str, parts: list[tuple[str, int]]) -> str:
    rows = " UNION ALL ".join(SOURCE_ROWS[source].format(table=t, sign=s) for t, s in parts)
    return histogram_fn(f"analytics_histogram_{source}_{'_'.join(t for t, _ in parts)}", rows)


def histogram_fn(name: str, rows: str) -> str:
    """A trigger function adding signed duration rows (`rows`: the columns of SOURCE_ROWS) to
    the histogram; later migrations that change which rows count reuse it."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO duration_histogram AS h (org_id, pipeline_id, figure, day, stage_id, bucket, n, total)
  SELECT org_id, pipeline_id, figure, day, stage_id, bucket, sum(sign), sum(sign * secs)
  FROM ({rows}) d
  GROUP BY org_id, pipeline_id, figure, day, stage_id, bucket
  -- An update that leaves a row's key and value alone cancels out and writes nothing.
  HAVING sum(sign) <> 0 OR sum(sign * secs) <> 0
  -- A fixed order keeps concurrent writers from deadlocking on histogram rows.
  ORDER BY org_id, pipeline_id, figure, day, stage_id, bucket
  ON CONFLICT (org_id, pipeline_id, figure, day, stage_id, bucket) DO UPDATE SET
    n = h.n + excluded.n, total = h.total + excluded.total;
  RETURN NULL;
END
$fn$;
"""


TRIGGERS = []  # (table, operation, function name, function body, REFERENCING clause)
for _source in SOURCE_ROWS:
    for _op, _parts, _ref in (
        ("INSERT", [("new_rows", 1)], "NEW TABLE AS new_rows"),
        ("UPDATE", [("new_rows", 1), ("old_rows", -1)], "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", [("old_rows", -1)], "OLD TABLE AS old_rows"),
    ):
        _fn = f"analytics_histogram_{_source}_{'_'.join(t for t, _ in _parts)}"
        TRIGGERS.append((_source, _op, _fn, _trigger_fn(_source, _parts), _ref))

BACKFILL_SQL = f"""
INSERT INTO duration_histogram (org_id, pipeline_id, figure, day, stage_id, bucket, n, total)
SELECT org_id, pipeline_id, figure, day, stage_id, bucket, count(*), sum(secs)
FROM ({" UNION ALL ".join(SOURCE_ROWS[s].format(table=s, sign=1) for s in SOURCE_ROWS)}) d
GROUP BY org_id, pipeline_id, figure, day, stage_id, bucket
"""


def upgrade() -> None:
    bind = op.get_bind()
    FIGURE.create(bind, checkfirst=True)
    for statement in FUNCTIONS_SQL:
        op.execute(statement)
    op.create_table(
        "duration_histogram",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.UUID(), nullable=False),
        sa.Column("pipeline_id", sa.UUID(), nullable=False),
        sa.Column("figure", FIGURE, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage_id", sa.UUID(), nullable=True),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_duration_histogram_org_id_org"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duration_histogram")),
    )
    op.execute(BACKFILL_SQL)
    # Covering: a period's histogram is read by an index-only range scan on day.
    op.create_index(
        "uq_duration_histogram_key", "duration_histogram",
        ["org_id", "pipeline_id", "figure", "day", "stage_id", "bucket"], unique=True,
        postgresql_nulls_not_distinct=True, postgresql_include=["n", "total"],
    )
    # One bucket's values of a period, for each figure: (stage, bucket) then the date.
    op.execute(
        "CREATE INDEX ix_stage_interval_duration_bucket ON stage_interval "
        "(org_id, pipeline_id, stage_id, analytics_span_bucket(entered_at, exited_at), entered_at) "
        "INCLUDE (exited_at) WHERE exited_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_stage_summary_deal_duration_bucket ON stage_summary "
        "(org_id, pipeline_id, stage_id, analytics_duration_bucket(completed_seconds), first_entered_at) "
        "INCLUDE (completed_seconds) WHERE first_entered_at IS NOT NULL AND completed_visits = visits"
    )
    op.execute(
        "CREATE INDEX ix_opportunity_cycle_bucket ON opportunity "
        "(org_id, pipeline_id, status, analytics_span_bucket(created_at, closed_at), closed_at) "
        "INCLUDE (created_at) WHERE closed_at IS NOT NULL AND status IN ('won', 'lost')"
    )
    # Open visits ordered by entry, so one day's entries are read in order.
    op.drop_index("ix_stage_summary_org_id_pipeline_id_stage_id_open", table_name="stage_summary",
                  postgresql_where=sa.text("open_entered_at IS NOT NULL"))
    op.create_index(
        "ix_stage_summary_org_id_pipeline_id_stage_id_open_entered_at", "stage_summary",
        ["org_id", "pipeline_id", "stage_id", "open_entered_at"], unique=False,
        postgresql_include=["owner_id", "team_id", "source"],
        postgresql_where=sa.text("open_entered_at IS NOT NULL"),
    )
    for table, operation, fn, body, ref in TRIGGERS:
        op.execute(body)
        op.execute(f"CREATE TRIGGER {fn} AFTER {operation} ON {table} REFERENCING {ref} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()")


def downgrade() -> None:
    for table, _operation, fn, _body, _ref in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {fn} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.drop_index("ix_stage_summary_org_id_pipeline_id_stage_id_open_entered_at", table_name="stage_summary",
                  postgresql_where=sa.text("open_entered_at IS NOT NULL"))
    op.create_index(
        "ix_stage_summary_org_id_pipeline_id_stage_id_open", "stage_summary",
        ["org_id", "pipeline_id", "stage_id"], unique=False,
        postgresql_include=["open_entered_at", "owner_id", "team_id", "source"],
        postgresql_where=sa.text("open_entered_at IS NOT NULL"),
    )
    op.execute("DROP INDEX IF EXISTS ix_opportunity_cycle_bucket")
    op.execute("DROP INDEX IF EXISTS ix_stage_summary_deal_duration_bucket")
    op.execute("DROP INDEX IF EXISTS ix_stage_interval_duration_bucket")
    op.drop_index("uq_duration_histogram_key", table_name="duration_histogram")
    op.drop_table("duration_histogram")
    op.execute("DROP FUNCTION IF EXISTS analytics_span_bucket(timestamptz, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS analytics_duration_bucket(float8)")
    sa.Enum(name="duration_figure").drop(op.get_bind(), checkfirst=True)
