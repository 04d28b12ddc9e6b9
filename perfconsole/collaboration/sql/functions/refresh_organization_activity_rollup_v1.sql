-- Bring the activity rollup (see rollup/organization_activity_rollup_v1.sql)
-- up to a new covered_until, in one transaction, and return it.
--
-- covered_until is one minute before the oldest transaction open in this
-- database (or before now): a transaction still open, or opened later,
-- creates its activity at or after its own start, so activity this rebuild
-- cannot see is never before covered_until, and v3 reads it raw. Activity
-- created over a minute before its own transaction started is marked dirty
-- by the insert trigger instead. Seeing other roles' transactions needs the
-- writing role itself or pg_read_all_stats.
--
-- Incremental: the activity created since the previous covered_until is
-- added to its hours, review requests it resolves are counted as resolved in
-- theirs, and only organizations marked dirty are rebuilt from all their
-- activity. Everything is rebuilt on the first run, when every organization
-- is marked (TRUNCATE), or with p_full. p_until caps covered_until (tests
-- use it to build up to a past instant, then catch up).
--
-- Readers keep the previous rollup until this commits; a second rebuild
-- waits for the first.
CREATE OR REPLACE FUNCTION refresh_organization_activity_rollup(
    p_full boolean DEFAULT false,
    p_until timestamptz DEFAULT NULL
)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = public, pg_temp
-- Plans for the actual organizations and range: the same statements serve a
-- rebuild of everything and the few rows since the last run.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_started timestamptz := clock_timestamp();
    v_previous timestamptz;
    v_covered timestamptz;
    v_everything boolean;
    v_dirty uuid[];
BEGIN
    SELECT covered_until
      INTO v_previous
      FROM organization_activity_rollup_state
       FOR UPDATE;

    SELECT least(now(), min(xact_start)) - interval '1 minute'
      INTO v_covered
      FROM pg_stat_activity
     WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND pid <> pg_backend_pid()
       AND backend_type = 'client backend'
       AND xact_start IS NOT NULL;
    -- Never move back (an older transaction of a role not seen before).
    v_covered := greatest(least(v_covered, p_until), v_previous);

    -- Every mark this statement sees was committed before the reads below,
    -- so they settle it; later marks stay for the next run.
    WITH settled AS (
        DELETE FROM organization_activity_rollup_dirty RETURNING organization_id
    )
    SELECT coalesce(bool_or(organization_id IS NULL), false),
           coalesce(array_agg(DISTINCT organization_id)
                        FILTER (WHERE organization_id IS NOT NULL), '{}')
      INTO v_everything, v_dirty
      FROM settled;
    v_everything := v_everything OR p_full OR v_previous IS NULL;

    -- The dirty organizations (or all) are rebuilt from all their activity;
    -- the others get the activity since the last run added to theirs.
    IF v_everything THEN
        DELETE FROM organization_activity_hourly;
        DELETE FROM organization_member_last_activity;
    ELSE
        DELETE FROM organization_activity_hourly WHERE organization_id = ANY(v_dirty);
        DELETE FROM organization_member_last_activity
         WHERE organization_id = ANY(v_dirty);
    END IF;

    INSERT INTO organization_activity_hourly AS h
    SELECT w.organization_id,
           date_trunc('hour', w.created_at, 'UTC'),
           count(*),
           count(*) FILTER (WHERE w.activity_type = 'study_created'),
           count(*) FILTER (WHERE w.activity_type = 'status_changed'),
           count(*) FILTER (WHERE w.activity_type = 'collaborator_added'),
           count(*) FILTER (WHERE w.activity_type = 'file_uploaded'),
           count(*) FILTER (WHERE w.activity_type = 'comment_added'),
           count(*) FILTER (WHERE w.activity_type = 'comment_resolved'),
           count(*) FILTER (WHERE w.activity_type = 'review_requested'),
           count(*) FILTER (WHERE w.activity_type = 'review_completed'),
           count(w.resolved_at) FILTER (WHERE w.activity_type = 'review_requested'),
           sum(extract(epoch FROM w.resolved_at - w.created_at))
               FILTER (WHERE w.activity_type = 'review_requested')
      FROM (-- Rebuilt: each study's activity, newest first, so the running
            -- min is the earliest completion at or after each row.
            SELECT s.organization_id,
                   a.activity_type,
                   a.created_at,
                   min(a.created_at)
                       FILTER (WHERE a.activity_type = 'review_completed')
                       OVER (PARTITION BY a.study_id ORDER BY a.created_at DESC)
                       AS resolved_at
              FROM collaboration_activity AS a
              JOIN studies AS s ON s.id = a.study_id
             WHERE (v_everything OR s.organization_id = ANY(v_dirty))
               AND a.created_at < v_covered
            UNION ALL
            -- Added: the activity since the last run, the same way.
            SELECT s.organization_id,
                   a.activity_type,
                   a.created_at,
                   min(a.created_at)
                       FILTER (WHERE a.activity_type = 'review_completed')
                       OVER (PARTITION BY a.study_id ORDER BY a.created_at DESC)
              FROM collaboration_activity AS a
              JOIN studies AS s ON s.id = a.study_id
             WHERE NOT v_everything
               AND a.created_at >= v_previous
               AND a.created_at < v_covered
               AND s.organization_id <> ALL(v_dirty)) AS w
     GROUP BY 1, 2
        -- Only an added hour meets a row already there.
        ON CONFLICT (organization_id, hour) DO UPDATE
       SET total = h.total + excluded.total,
           study_created = h.study_created + excluded.study_created,
           status_changed = h.status_changed + excluded.status_changed,
           collaborator_added = h.collaborator_added + excluded.collaborator_added,
           file_uploaded = h.file_uploaded + excluded.file_uploaded,
           comment_added = h.comment_added + excluded.comment_added,
           comment_resolved = h.comment_resolved + excluded.comment_resolved,
           review_requested = h.review_requested + excluded.review_requested,
           review_completed = h.review_completed + excluded.review_completed,
           reviews_resolved = h.reviews_resolved + excluded.reviews_resolved,
           resolution_seconds = CASE
               WHEN excluded.resolution_seconds IS NULL THEN h.resolution_seconds
               ELSE coalesce(h.resolution_seconds, 0) + excluded.resolution_seconds
           END;

    INSERT INTO organization_member_last_activity AS l
    SELECT w.organization_id, w.user_id, max(w.created_at)
      FROM (SELECT s.organization_id, a.user_id, a.created_at
              FROM studies AS s
              JOIN collaboration_activity AS a ON a.study_id = s.id
             WHERE (v_everything OR s.organization_id = ANY(v_dirty))
               AND a.created_at < v_covered
            UNION ALL
            SELECT s.organization_id, a.user_id, a.created_at
              FROM collaboration_activity AS a
              JOIN studies AS s ON s.id = a.study_id
             WHERE NOT v_everything
               AND a.created_at >= v_previous
               AND a.created_at < v_covered
               AND s.organization_id <> ALL(v_dirty)) AS w
     WHERE w.user_id IS NOT NULL
     GROUP BY 1, 2
        ON CONFLICT (organization_id, user_id) DO UPDATE
       SET last_activity_at = greatest(l.last_activity_at, excluded.last_activity_at);

    IF NOT v_everything AND v_covered > v_previous THEN
        -- Requests still open at the last run, resolved by a completion
        -- since: each by its study's first completion since.
        UPDATE organization_activity_hourly AS h
           SET reviews_resolved = h.reviews_resolved + late.resolved,
               resolution_seconds = coalesce(h.resolution_seconds, 0) + late.seconds
          FROM (SELECT s.organization_id,
                       date_trunc('hour', q.created_at, 'UTC') AS hour,
                       count(*) AS resolved,
                       sum(extract(epoch FROM done.first_at - q.created_at)) AS seconds
                  FROM (SELECT a.study_id, min(a.created_at) AS first_at
                          FROM collaboration_activity AS a
                         WHERE a.activity_type = 'review_completed'
                           AND a.created_at >= v_previous
                           AND a.created_at < v_covered
                         GROUP BY a.study_id) AS done
                  JOIN studies AS s ON s.id = done.study_id
                 CROSS JOIN LATERAL (
                       SELECT max(c.created_at) AS at
                         FROM collaboration_activity AS c
                        WHERE c.study_id = done.study_id
                          AND c.activity_type = 'review_completed'
                          AND c.created_at < v_previous
                       ) AS last_done
                  JOIN collaboration_activity AS q
                    ON q.study_id = done.study_id
                   AND q.activity_type = 'review_requested'
                   AND q.created_at < v_previous
                   AND q.created_at > coalesce(last_done.at, '-infinity')
                 WHERE s.organization_id <> ALL(v_dirty)
                 GROUP BY 1, 2) AS late
         WHERE h.organization_id = late.organization_id
           AND h.hour = late.hour;
    END IF;

    UPDATE organization_activity_rollup_state
       SET covered_until = v_covered,
           refreshed_at = now(),
           refresh_ms = round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
    RETURN v_covered;
END
$$
