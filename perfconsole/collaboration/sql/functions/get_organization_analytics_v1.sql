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
-- Index use: idx_studies_organization_lookup lists the organization's
-- studies; idx_collaboration_activity_timeline reads each study's window and
-- finds the first completion after a request; idx_organization_members_org_role
-- counts members and matches active users.
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
    WITH org_studies AS (
        SELECT s.id, s.created_at
          FROM studies AS s
         WHERE s.organization_id = p_org_id
    ),
    window_activity AS (
        SELECT a.study_id, a.user_id, a.created_at, a.activity_type
          FROM org_studies AS s
          JOIN collaboration_activity AS a
            ON a.study_id = s.id
           AND a.created_at >= v_start
           AND a.created_at <= v_end
    ),
    members AS (
        SELECT m.user_id
          FROM organization_members AS m
         WHERE m.organization_id = p_org_id
    ),
    by_type AS (
        SELECT t.activity_type, count(w.activity_type) AS n
          FROM unnest(ARRAY[
                   'study_created', 'status_changed', 'collaborator_added',
                   'file_uploaded', 'comment_added', 'comment_resolved',
                   'review_requested', 'review_completed'
               ]::varchar[]) AS t (activity_type)
          LEFT JOIN window_activity AS w ON w.activity_type = t.activity_type
         GROUP BY t.activity_type
    ),
    resolutions AS (
        SELECT r.created_at AS requested_at,
               (SELECT c.created_at
                  FROM collaboration_activity AS c
                 WHERE c.study_id = r.study_id
                   AND c.created_at >= r.created_at
                   AND c.created_at <= v_end
                   AND c.activity_type = 'review_completed'
                 ORDER BY c.created_at
                 LIMIT 1) AS resolved_at
          FROM window_activity AS r
         WHERE r.activity_type = 'review_requested'
    ),
    counts AS (
        SELECT (SELECT count(*) FROM members) AS total_members,
               (SELECT count(DISTINCT w.user_id)
                  FROM window_activity AS w
                 WHERE w.user_id IN (SELECT user_id FROM members)) AS active_members
    )
    SELECT p_org_id,
           v_start,
           v_end,
           counts.total_members,
           counts.active_members,
           CASE WHEN counts.total_members = 0 THEN 0::numeric
                ELSE round(100.0 * counts.active_members / counts.total_members, 2)
           END,
           (SELECT count(*)
              FROM org_studies AS s
             WHERE s.created_at >= v_start AND s.created_at <= v_end),
           (SELECT count(*) FROM window_activity),
           (SELECT jsonb_object_agg(b.activity_type, b.n) FROM by_type AS b),
           (SELECT count(*) FROM resolutions),
           (SELECT count(resolved_at) FROM resolutions),
           (SELECT round(avg(extract(epoch FROM resolved_at - requested_at)) / 3600, 2)
              FROM resolutions
             WHERE resolved_at IS NOT NULL)
      FROM counts
     WHERE EXISTS (SELECT 1 FROM organizations AS o WHERE o.id = p_org_id);
END
$$
