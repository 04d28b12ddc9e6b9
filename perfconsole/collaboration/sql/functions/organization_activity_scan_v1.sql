-- get_organization_analytics over [p_start, p_end] computed from the raw
-- activity rows: v2's body, unchanged, with the window as arguments. v3 uses
-- it when the rollup cannot answer (see get_organization_analytics_v3.sql).
CREATE OR REPLACE FUNCTION organization_activity_scan(
    p_org_id uuid, p_start timestamptz, p_end timestamptz
)
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
-- A plan for each call's own window and organization: after five calls a
-- cached generic plan, blind to how many rows the window holds, took 3-5
-- times as long for the largest organization.
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
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
                  AND a.created_at >= p_start
                  AND a.created_at <= p_end
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
           p_start,
           p_end,
           totals.total_members,
           totals.active_members,
           CASE WHEN totals.total_members = 0 THEN 0::numeric
                ELSE round(100.0 * totals.active_members / totals.total_members, 2)
           END,
           (SELECT count(*)
              FROM studies AS s
             WHERE s.organization_id = p_org_id
               AND s.created_at >= p_start
               AND s.created_at <= p_end),
           totals.total,
           totals.by_type,
           totals.requested,
           totals.resolved,
           round(totals.avg_seconds / 3600, 2)
      FROM totals
     WHERE EXISTS (SELECT 1 FROM organizations AS o WHERE o.id = p_org_id);
END
$$
