-- An organization's metrics over the last p_days days (now() - p_days days up
-- to now), as one row:
--
--   total_members          members of the organization now
--   active_members         members who recorded any activity in the window
--   member_engagement_pct  active_members / total_members * 100 (0 without members)
--   studies_created        studies of the organization created in the window
--   total_activities       activity rows on the organization's studies in the window
--   activity_by_type       {"comment_added": 12, ...}: every type, zeros included
--   reviews_requested      'review_requested' rows in the window
--   reviews_resolved       of those, the ones resolved (see below)
--   avg_resolution_hours   mean hours from request to resolution, NULL if none
--
-- Resolution: a 'review_requested' row is resolved by the first
-- 'review_completed' row on the same study at or after it (at any time up to
-- now, so a request near the end of the window still counts when it was
-- completed since). A request without such a row is open and is left out of
-- the average.
--
-- Arguments: p_days must be between 0 and 36600 (0 gives an empty window);
-- NULL or anything else raises invalid_parameter_value (22023). An unknown
-- organization gives no row.
--
-- v2: the same results as v1, with one pass over the window instead of five.
-- Per study, an index-only range scan of idx_collaboration_activity_timeline
-- on (study_id, created_at) already returns the rows newest first, so a
-- running min() over that order gives each row the first completion at or
-- after it (the window's rows reach up to now, and a completion is never
-- before its request, so it is inside the window) without a sort or a probe
-- per request. The rows are grouped by user right away (a few thousand groups
-- even for the largest organizations), and one join of those groups with the
-- organization's members (index-only on organization_members_org_user_uniq)
-- counts both the members and the active ones, so nothing is materialized,
-- scanned twice or probed per user.
-- avg = sum / count, computed the way avg(numeric) does, so the result is
-- identical.
--
-- The cost is linear in the window's rows: ~174 000 rows for the largest
-- organization of `seeddemo --scale large` over 30 days. Dashboards over many
-- or large organizations read the materialized view instead.
CREATE OR REPLACE FUNCTION get_organization_analytics(p_org_id uuid, p_days integer)
RETURNS TABLE (
    organization_id uuid,
    period_start timestamptz,
    period_end timestamptz,
    total_members bigint,
    active_members bigint,
    member_engagement_pct numeric,
    studies_created bigint,
    total_activities bigint,
    activity_by_type jsonb,
    reviews_requested bigint,
    reviews_resolved bigint,
    avg_resolution_hours numeric
)
LANGUAGE plpgsql
STABLE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_end timestamptz := now();
    v_start timestamptz;
BEGIN
    IF p_days IS NULL OR p_days < 0 OR p_days > 36600 THEN
        RAISE EXCEPTION 'p_days must be between 0 and 36600, got %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_start := v_end - make_interval(days => p_days);

    RETURN QUERY
    WITH per_user AS (
        SELECT w.user_id,
               count(*) AS total,
               count(*) FILTER (WHERE w.activity_type = 'study_created') AS study_created,
               count(*) FILTER (WHERE w.activity_type = 'status_changed') AS status_changed,
               count(*) FILTER (WHERE w.activity_type = 'collaborator_added')
                   AS collaborator_added,
               count(*) FILTER (WHERE w.activity_type = 'file_uploaded') AS file_uploaded,
               count(*) FILTER (WHERE w.activity_type = 'comment_added') AS comment_added,
               count(*) FILTER (WHERE w.activity_type = 'comment_resolved')
                   AS comment_resolved,
               count(*) FILTER (WHERE w.activity_type = 'review_requested')
                   AS review_requested,
               count(*) FILTER (WHERE w.activity_type = 'review_completed')
                   AS review_completed,
               count(w.resolved_at) FILTER (WHERE w.activity_type = 'review_requested')
                   AS resolved,
               sum(extract(epoch FROM w.resolved_at - w.created_at))
                   FILTER (WHERE w.activity_type = 'review_requested') AS seconds
          FROM studies AS s
         CROSS JOIN LATERAL (
               SELECT a.user_id,
                      a.activity_type,
                      a.created_at,
                      -- Newest first: the running min is the earliest
                      -- completion at or after this row (peers included).
                      min(a.created_at)
                          FILTER (WHERE a.activity_type = 'review_completed')
                          OVER (ORDER BY a.created_at DESC) AS resolved_at
                 FROM collaboration_activity AS a
                WHERE a.study_id = s.id
                  AND a.created_at >= v_start
                  AND a.created_at <= v_end
               ) AS w
         WHERE s.organization_id = p_org_id
         GROUP BY w.user_id
    ),
    totals AS (
        SELECT count(m.user_id) AS total_members,
               count(m.user_id) FILTER (WHERE p.user_id IS NOT NULL) AS active_members,
               coalesce(sum(p.total), 0)::bigint AS total,
               jsonb_build_object(
                   'study_created', coalesce(sum(p.study_created), 0)::bigint,
                   'status_changed', coalesce(sum(p.status_changed), 0)::bigint,
                   'collaborator_added', coalesce(sum(p.collaborator_added), 0)::bigint,
                   'file_uploaded', coalesce(sum(p.file_uploaded), 0)::bigint,
                   'comment_added', coalesce(sum(p.comment_added), 0)::bigint,
                   'comment_resolved', coalesce(sum(p.comment_resolved), 0)::bigint,
                   'review_requested', coalesce(sum(p.review_requested), 0)::bigint,
                   'review_completed', coalesce(sum(p.review_completed), 0)::bigint
               ) AS by_type,
               coalesce(sum(p.review_requested), 0)::bigint AS requested,
               coalesce(sum(p.resolved), 0)::bigint AS resolved,
               sum(p.seconds) / nullif(sum(p.resolved), 0) AS avg_seconds
          FROM per_user AS p
          -- Every member once, with its group or without; a group of a
          -- non-member (or of NULL, deleted users) adds its activity only.
          FULL JOIN (SELECT om.user_id
                       FROM organization_members AS om
                      WHERE om.organization_id = p_org_id) AS m
            ON m.user_id = p.user_id
    )
    SELECT p_org_id,
           v_start,
           v_end,
           totals.total_members,
           totals.active_members,
           CASE WHEN totals.total_members = 0 THEN 0::numeric
                ELSE round(100.0 * totals.active_members / totals.total_members, 2)
           END,
           (SELECT count(*)
              FROM studies AS s
             WHERE s.organization_id = p_org_id
               AND s.created_at >= v_start
               AND s.created_at <= v_end),
           totals.total,
           totals.by_type,
           totals.requested,
           totals.resolved,
           round(totals.avg_seconds / 3600, 2)
      FROM totals
     WHERE EXISTS (SELECT 1 FROM organizations AS o WHERE o.id = p_org_id);
END
$$
