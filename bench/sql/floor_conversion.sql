-- The floor for GET /v1/analytics/stage-conversion (reached mode): the same counts in one
-- hand-written query over the raw tables (stage_interval, stage, opportunity).
-- psql variables: org, pipeline, start, end.
WITH f AS (
  SELECT i.opportunity_id AS opp,
         CASE WHEN s.kind = 'won' THEN 2147483647 ELSE s.position END AS rnk,
         min(i.entered_at) AS first_at
  FROM stage_interval i JOIN stage s ON s.id = i.stage_id
  WHERE i.org_id = :'org' AND i.pipeline_id = :'pipeline' AND s.kind <> 'lost'
  GROUP BY 1, 2
), per AS (
  SELECT st.id AS stage_id, f.opp, min(f.first_at) AS reached_at, bool_or(f.rnk > st.position) AS advanced
  FROM stage st JOIN f ON f.rnk >= st.position
  WHERE st.org_id = :'org' AND st.pipeline_id = :'pipeline' AND st.kind = 'open'
  GROUP BY st.id, f.opp
)
SELECT per.stage_id, count(*) AS entered,
       count(*) FILTER (WHERE per.advanced OR o.status = 'won') AS advanced,
       count(*) FILTER (WHERE NOT per.advanced AND o.status = 'lost') AS lost,
       count(*) FILTER (WHERE NOT per.advanced AND o.status = 'open') AS open
FROM per JOIN opportunity o ON o.id = per.opp
WHERE per.reached_at >= :'start' AND per.reached_at < :'end'
GROUP BY per.stage_id;
