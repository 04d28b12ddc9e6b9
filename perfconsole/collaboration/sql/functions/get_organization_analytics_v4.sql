-- An organization's metrics over the last p_days days: the same arguments,
-- columns and results as v1 to v3 (see get_organization_analytics_v2.sql
-- for what each column means). v3's reading of the activity rollup, with two
-- changes that keep the largest organization's cost small:
--
-- * Members are no longer scanned. total_members comes from
--   organization_member_counts; active_members from the histogram
--   organization_member_activity_hourly (members per hour of last activity
--   before covered_until, see rollup/organization_member_counts_v1.sql):
--   the hours from edge on, plus the members whose last activity falls in
--   [start, edge), plus the members active in the tail and not before.
-- * A raw review request finds its first completion among its study's rows
--   (the timeline index), the type checked on each: with the type in the
--   WHERE clause, PostgreSQL 18 priced that scan at 33 000 and walked
--   collaboration_activity_type instead, through every completion of every
--   organization since the request (half a second, uncached, for one
--   request at `large`).
--
-- v3's description of the window, still true:
--
-- The window [start, end] splits at two instants: edge, the first whole hour
-- (UTC) at or after start, and covered_until, up to which the rollup holds
-- the activity:
--
--   [start, edge)          raw rows, through the created_at index
--   [edge, covered_until)  the organization's hourly rollup rows
--   [covered_until, end]   raw rows, the tail since the last rebuild
--
-- Active members are members whose latest activity before covered_until is
-- at or after start, or who appear in the tail. A review request in the
-- rollup that was still open at covered_until is resolved by its study's
-- first completion in the tail, if there is one; a raw request looks up its
-- first completion directly.
--
-- When the rollup cannot answer (never built, marked dirty for this
-- organization, or not covering the window's start) the raw scan
-- organization_activity_scan() answers instead, with the same results.
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
-- A plan for each call's own window and organization: after five calls a
-- cached generic plan, blind to how many rows the window holds, took 3-5
-- times as long for the largest organization.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_end timestamptz := now();
    v_start timestamptz;
    v_covered timestamptz;
    v_edge timestamptz;
BEGIN
    IF p_days IS NULL OR p_days < 0 OR p_days > 36600 THEN
        RAISE EXCEPTION 'p_days must be between 0 and 36600, got %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_start := v_end - make_interval(days => p_days);

    v_covered := organization_rollup_covered_until(p_org_id);
    IF v_covered IS NULL OR v_covered <= v_start OR v_covered > v_end THEN
        RETURN QUERY SELECT * FROM organization_activity_scan(p_org_id, v_start, v_end);
        RETURN;
    END IF;
    v_edge := least(
        date_trunc('hour', v_start, 'UTC')
            + CASE WHEN date_trunc('hour', v_start, 'UTC') = v_start
                   THEN interval '0' ELSE interval '1 hour' END,
        v_covered
    );

    RETURN QUERY
    WITH raw AS (
        SELECT a.study_id, a.user_id, a.activity_type, a.created_at
          FROM collaboration_activity AS a
          JOIN studies AS s ON s.id = a.study_id
         WHERE s.organization_id = p_org_id
           AND a.created_at >= v_start
           AND a.created_at < v_edge
        UNION ALL
        SELECT a.study_id, a.user_id, a.activity_type, a.created_at
          FROM collaboration_activity AS a
          JOIN studies AS s ON s.id = a.study_id
         WHERE s.organization_id = p_org_id
           AND a.created_at >= v_covered
           AND a.created_at <= v_end
    ),
    raw_counts AS (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE r.activity_type = 'study_created') AS study_created,
               count(*) FILTER (WHERE r.activity_type = 'status_changed') AS status_changed,
               count(*) FILTER (WHERE r.activity_type = 'collaborator_added')
                   AS collaborator_added,
               count(*) FILTER (WHERE r.activity_type = 'file_uploaded') AS file_uploaded,
               count(*) FILTER (WHERE r.activity_type = 'comment_added') AS comment_added,
               count(*) FILTER (WHERE r.activity_type = 'comment_resolved')
                   AS comment_resolved,
               count(*) FILTER (WHERE r.activity_type = 'review_requested')
                   AS review_requested,
               count(*) FILTER (WHERE r.activity_type = 'review_completed')
                   AS review_completed,
               count(done.at) AS resolved,
               sum(extract(epoch FROM done.at - r.created_at)) AS seconds
          FROM raw AS r
          LEFT JOIN LATERAL (
               SELECT min(c.created_at)
                          FILTER (WHERE c.activity_type = 'review_completed') AS at
                 FROM collaboration_activity AS c
                WHERE r.activity_type = 'review_requested'
                  AND c.study_id = r.study_id
                  AND c.created_at >= r.created_at
                  AND c.created_at <= v_end
               ) AS done ON true
    ),
    -- Rollup requests still open at covered_until, resolved in the tail.
    late_resolved AS (
        SELECT count(*) AS resolved,
               sum(extract(epoch FROM t.first_done - q.created_at)) AS seconds
          FROM (SELECT r.study_id, min(r.created_at) AS first_done
                  FROM raw AS r
                 WHERE r.activity_type = 'review_completed'
                   AND r.created_at >= v_covered
                 GROUP BY r.study_id) AS t
         CROSS JOIN LATERAL (
               SELECT max(c.created_at) AS at
                 FROM collaboration_activity AS c
                WHERE c.study_id = t.study_id
                  AND c.activity_type = 'review_completed'
                  AND c.created_at < v_covered
               ) AS last_done
          JOIN collaboration_activity AS q
            ON q.study_id = t.study_id
           AND q.activity_type = 'review_requested'
           AND q.created_at >= v_edge
           AND q.created_at < v_covered
           AND q.created_at > coalesce(last_done.at, '-infinity')
    ),
    rolled AS (
        SELECT coalesce(sum(h.total), 0) AS total,
               coalesce(sum(h.study_created), 0) AS study_created,
               coalesce(sum(h.status_changed), 0) AS status_changed,
               coalesce(sum(h.collaborator_added), 0) AS collaborator_added,
               coalesce(sum(h.file_uploaded), 0) AS file_uploaded,
               coalesce(sum(h.comment_added), 0) AS comment_added,
               coalesce(sum(h.comment_resolved), 0) AS comment_resolved,
               coalesce(sum(h.review_requested), 0) AS review_requested,
               coalesce(sum(h.review_completed), 0) AS review_completed,
               coalesce(sum(h.reviews_resolved), 0) AS resolved,
               sum(h.resolution_seconds) AS seconds
          FROM organization_activity_hourly AS h
         WHERE h.organization_id = p_org_id
           AND h.hour >= v_edge
    ),
    -- Members active in the window: by hour of last activity from edge on,
    -- one by one in [start, edge), and those only the tail shows active.
    -- Materialized: inlined, each of its three uses would run it again.
    members AS MATERIALIZED (
        SELECT coalesce((SELECT c.members
                           FROM organization_member_counts AS c
                          WHERE c.organization_id = p_org_id), 0) AS total_members,
               (SELECT coalesce(sum(h.members), 0)
                  FROM organization_member_activity_hourly AS h
                 WHERE h.organization_id = p_org_id
                   AND h.hour >= v_edge)
               + (SELECT count(*)
                    FROM organization_member_last_activity AS l
                   WHERE l.organization_id = p_org_id
                     AND l.last_activity_at >= v_start
                     AND l.last_activity_at < v_edge
                     AND EXISTS (SELECT 1
                                   FROM organization_members AS m
                                  WHERE m.organization_id = p_org_id
                                    AND m.user_id = l.user_id))
               + (SELECT count(*)
                    FROM (SELECT DISTINCT r.user_id
                            FROM raw AS r
                           WHERE r.created_at >= v_covered) AS tail
                   WHERE EXISTS (SELECT 1
                                   FROM organization_members AS m
                                  WHERE m.organization_id = p_org_id
                                    AND m.user_id = tail.user_id)
                     AND NOT EXISTS (
                             SELECT 1
                               FROM organization_member_last_activity AS l
                              WHERE l.organization_id = p_org_id
                                AND l.user_id = tail.user_id
                                AND l.last_activity_at >= v_start)
                 ) AS active_members
    ),
    totals AS (
        SELECT (rc.total + ro.total)::bigint AS total,
               jsonb_build_object(
                   'study_created', (rc.study_created + ro.study_created)::bigint,
                   'status_changed', (rc.status_changed + ro.status_changed)::bigint,
                   'collaborator_added',
                       (rc.collaborator_added + ro.collaborator_added)::bigint,
                   'file_uploaded', (rc.file_uploaded + ro.file_uploaded)::bigint,
                   'comment_added', (rc.comment_added + ro.comment_added)::bigint,
                   'comment_resolved',
                       (rc.comment_resolved + ro.comment_resolved)::bigint,
                   'review_requested',
                       (rc.review_requested + ro.review_requested)::bigint,
                   'review_completed',
                       (rc.review_completed + ro.review_completed)::bigint
               ) AS by_type,
               (rc.review_requested + ro.review_requested)::bigint AS requested,
               (rc.resolved + ro.resolved + lr.resolved)::bigint AS resolved,
               (coalesce(rc.seconds, 0) + coalesce(ro.seconds, 0)
                   + coalesce(lr.seconds, 0))
                   / nullif(rc.resolved + ro.resolved + lr.resolved, 0) AS avg_seconds
          FROM raw_counts AS rc, rolled AS ro, late_resolved AS lr
    )
    SELECT p_org_id,
           v_start,
           v_end,
           members.total_members,
           members.active_members,
           CASE WHEN members.total_members = 0 THEN 0::numeric
                ELSE round(100.0 * members.active_members / members.total_members, 2)
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
      FROM members, totals
     WHERE EXISTS (SELECT 1 FROM organizations AS o WHERE o.id = p_org_id);
END
$$
