-- The floor for GET /v1/analytics/stage-duration: per visit, per deal (visits summed),
-- open age and sales cycle, count/mean/p50/p75/p90, in one query over the raw tables.
-- psql variables: org, pipeline, start, end.
WITH pv AS (
  SELECT i.stage_id::text AS k, extract(epoch FROM i.exited_at - i.entered_at) AS secs
  FROM stage_interval i
  WHERE i.org_id = :'org' AND i.pipeline_id = :'pipeline' AND i.entered_at >= :'start' AND i.entered_at < :'end'
    AND i.exited_at IS NOT NULL
), pairs AS (
  SELECT DISTINCT i.opportunity_id, i.stage_id FROM stage_interval i JOIN stage s ON s.id = i.stage_id AND s.kind = 'open'
  WHERE i.org_id = :'org' AND i.pipeline_id = :'pipeline' AND i.entered_at >= :'start' AND i.entered_at < :'end'
), pd AS (
  SELECT i.stage_id::text AS k, sum(extract(epoch FROM i.exited_at - i.entered_at)) AS secs
  FROM stage_interval i JOIN pairs p ON p.opportunity_id = i.opportunity_id AND p.stage_id = i.stage_id
  WHERE i.org_id = :'org'
  GROUP BY i.opportunity_id, i.stage_id
  HAVING min(i.entered_at) >= :'start' AND count(*) = count(i.exited_at)
), age AS (
  SELECT i.stage_id::text AS k, extract(epoch FROM now() - i.entered_at) AS secs
  FROM stage_interval i JOIN stage s ON s.id = i.stage_id AND s.kind = 'open'
  WHERE i.org_id = :'org' AND i.pipeline_id = :'pipeline' AND i.exited_at IS NULL
), cyc AS (
  SELECT o.status::text AS k, extract(epoch FROM o.closed_at - o.created_at) AS secs
  FROM opportunity o
  WHERE o.org_id = :'org' AND o.pipeline_id = :'pipeline' AND o.closed_at >= :'start' AND o.closed_at < :'end'
    AND o.status IN ('won', 'lost')
)
SELECT 'visit' AS part, k, count(*), avg(secs), percentile_cont(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY secs) FROM pv GROUP BY k
UNION ALL
SELECT 'deal', k, count(*), avg(secs), percentile_cont(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY secs) FROM pd GROUP BY k
UNION ALL
SELECT 'age', k, count(*), avg(secs), percentile_cont(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY secs) FROM age GROUP BY k
UNION ALL
SELECT 'cycle', k, count(*), avg(secs), percentile_cont(ARRAY[0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY secs) FROM cyc GROUP BY k;
