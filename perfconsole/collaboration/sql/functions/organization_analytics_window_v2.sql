-- get_organization_analytics over [p_start, p_end] (p_end at most now()),
-- read mostly from the activity rollup: v4's body with the window as
-- arguments, and the window's first partial hour read from its nearer side.
-- get_organization_analytics v5 calls it with [now() - p_days, now()].
-- v2: v1 with the first hour's raw rows joined to the organization's studies
-- as one set (see the OFFSET 0 below), not by primary key row by row.
--
-- The rollup holds whole hours (UTC) before covered_until; the raw rows
-- that complete the window are those of its first partial hour, every
-- organization's activity filtered by this one's studies, and its cost grows
-- with the minutes read. With start = floor + m minutes:
--
--   m < 30 (subtract)  the rollup from floor, minus the raw rows of
--                      [floor, start): each one counted -1, a review request
--                      among them resolved in the rollup (by its study's
--                      first completion before covered_until) un-resolved.
--   m >= 30 (add)      the rollup from edge = the next whole hour (or
--                      covered_until if earlier), plus the raw rows of
--                      [start, edge), each request resolved by its first
--                      completion up to the end, as in v3.
--
-- Either way at most half an hour of raw rows, plus the tail: the raw rows
-- since covered_until, with the requests of the rollup (from start on)
-- still open at covered_until resolved by their study's first completion in
-- the tail. Members: the histogram of members by hour of last activity
-- (organization_member_activity_hourly) from the same hour, plus or minus
-- the members whose last activity falls in the raw part of the first hour,
-- plus the members only the tail shows active; the total from
-- organization_member_counts. A raw review request looks up its completion
-- among its study's rows, the type checked on each (see v4).
--
-- When the rollup cannot answer (never built, marked dirty for this
-- organization, or not covering the window's start) the raw scan
-- organization_activity_scan() answers instead, with the same results.
CREATE OR REPLACE FUNCTION organization_analytics_window(
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
DECLARE
    v_start timestamptz := p_start;
    v_end timestamptz := p_end;
    v_covered timestamptz;
    v_floor timestamptz;
    v_edge timestamptz;
    -- The raw part of the first hour, [v_head_from, v_head_to), counted
    -- with v_sign; the rollup from v_rolled_from; its requests from
    -- v_requests_from may be resolved in the tail.
    v_sign integer;
    v_head_from timestamptz;
    v_head_to timestamptz;
    v_rolled_from timestamptz;
    v_requests_from timestamptz;
BEGIN
    v_covered := organization_rollup_covered_until(p_org_id);
    IF v_covered IS NULL OR v_covered <= v_start OR v_covered > v_end THEN
        RETURN QUERY SELECT * FROM organization_activity_scan(p_org_id, v_start, v_end);
        RETURN;
    END IF;
    v_floor := date_trunc('hour', v_start, 'UTC');
    v_edge := least(
        v_floor + CASE WHEN v_floor = v_start THEN interval '0' ELSE interval '1 hour' END,
        v_covered
    );
    IF v_start - v_floor < interval '30 minutes'
       AND v_floor + interval '1 hour' <= v_covered THEN
        v_sign := -1;
        v_head_from := v_floor;
        v_head_to := v_start;
        v_rolled_from := v_floor;
        v_requests_from := v_start;
    ELSE
        v_sign := 1;
        v_head_from := v_start;
        v_head_to := v_edge;
        v_rolled_from := v_edge;
        v_requests_from := v_edge;
    END IF;

    RETURN QUERY
    WITH raw AS (
        -- OFFSET 0 keeps the organization's studies one scan: joined by
        -- primary key instead, up to about 1 000 rows of the first hour cost
        -- 4 buffers each (3 700 for the largest organization at `large`);
        -- hashed, 1. A small organization still probes each study's timeline.
        SELECT a.study_id, a.user_id, a.activity_type, a.created_at, v_sign AS sign
          FROM collaboration_activity AS a
          JOIN (SELECT s.id
                  FROM studies AS s
                 WHERE s.organization_id = p_org_id
                OFFSET 0) AS s
            ON s.id = a.study_id
         WHERE a.created_at >= v_head_from
           AND a.created_at < v_head_to
        UNION ALL
        SELECT a.study_id, a.user_id, a.activity_type, a.created_at, 1
          FROM collaboration_activity AS a
          JOIN studies AS s ON s.id = a.study_id
         WHERE s.organization_id = p_org_id
           AND a.created_at >= v_covered
           AND a.created_at <= v_end
    ),
    raw_counts AS (
        SELECT coalesce(sum(r.sign), 0) AS total,
               coalesce(sum(r.sign) FILTER (WHERE r.activity_type = 'study_created'), 0)
                   AS study_created,
               coalesce(sum(r.sign) FILTER (WHERE r.activity_type = 'status_changed'), 0)
                   AS status_changed,
               coalesce(sum(r.sign)
                            FILTER (WHERE r.activity_type = 'collaborator_added'), 0)
                   AS collaborator_added,
               coalesce(sum(r.sign) FILTER (WHERE r.activity_type = 'file_uploaded'), 0)
                   AS file_uploaded,
               coalesce(sum(r.sign) FILTER (WHERE r.activity_type = 'comment_added'), 0)
                   AS comment_added,
               coalesce(sum(r.sign)
                            FILTER (WHERE r.activity_type = 'comment_resolved'), 0)
                   AS comment_resolved,
               coalesce(sum(r.sign)
                            FILTER (WHERE r.activity_type = 'review_requested'), 0)
                   AS review_requested,
               coalesce(sum(r.sign)
                            FILTER (WHERE r.activity_type = 'review_completed'), 0)
                   AS review_completed,
               coalesce(sum(r.sign) FILTER (WHERE done.at IS NOT NULL), 0) AS resolved,
               sum(r.sign * extract(epoch FROM done.at - r.created_at)) AS seconds
          FROM raw AS r
          LEFT JOIN LATERAL (
               SELECT min(c.created_at)
                          FILTER (WHERE c.activity_type = 'review_completed') AS at
                 FROM collaboration_activity AS c
                WHERE r.activity_type = 'review_requested'
                  AND c.study_id = r.study_id
                  AND c.created_at >= r.created_at
                  AND c.created_at <= v_end
                  -- A subtracted request: as the rollup resolved it.
                  AND (r.sign > 0 OR c.created_at < v_covered)
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
           AND q.created_at >= v_requests_from
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
           AND h.hour >= v_rolled_from
    ),
    -- Members active in the window: by hour of last activity from the
    -- rollup's first hour, those of the raw part one by one (added or
    -- subtracted), and those only the tail shows active.
    -- Materialized: inlined, each of its three uses would run it again.
    members AS MATERIALIZED (
        SELECT coalesce((SELECT c.members
                           FROM organization_member_counts AS c
                          WHERE c.organization_id = p_org_id), 0) AS total_members,
               (SELECT coalesce(sum(h.members), 0)
                  FROM organization_member_activity_hourly AS h
                 WHERE h.organization_id = p_org_id
                   AND h.hour >= v_rolled_from)
               + v_sign * (SELECT count(*)
                    FROM organization_member_last_activity AS l
                   WHERE l.organization_id = p_org_id
                     AND l.last_activity_at >= v_head_from
                     AND l.last_activity_at < v_head_to
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
