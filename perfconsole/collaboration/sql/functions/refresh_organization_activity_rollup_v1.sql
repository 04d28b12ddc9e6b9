-- Rebuild the activity rollup (see rollup/organization_activity_rollup_v1.sql)
-- in one transaction and return its new covered_until.
--
-- covered_until is one minute before the oldest transaction open in this
-- database (or before now): a transaction still open, or opened later,
-- creates its activity at or after its own start, so activity this rebuild
-- cannot see is never before covered_until, and v3 reads it raw. Activity
-- created over a minute before its own transaction started is marked dirty
-- by the insert trigger instead. Seeing other roles' transactions needs the
-- writing role itself or pg_read_all_stats.
--
-- Readers keep the previous rollup until this commits; a second rebuild
-- waits for the first.
CREATE OR REPLACE FUNCTION refresh_organization_activity_rollup()
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_started timestamptz := clock_timestamp();
    v_covered timestamptz;
BEGIN
    PERFORM 1 FROM organization_activity_rollup_state FOR UPDATE;

    SELECT least(now(), min(xact_start)) - interval '1 minute'
      INTO v_covered
      FROM pg_stat_activity
     WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND pid <> pg_backend_pid()
       AND backend_type = 'client backend'
       AND xact_start IS NOT NULL;

    -- Every mark this statement sees was committed before the rebuild below
    -- looks, so the rebuild settles it; later marks stay.
    DELETE FROM organization_activity_rollup_dirty;

    DELETE FROM organization_activity_hourly;
    INSERT INTO organization_activity_hourly
    SELECT s.organization_id,
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
      FROM (SELECT a.study_id,
                   a.activity_type,
                   a.created_at,
                   -- Newest first per study: the running min is the earliest
                   -- completion at or after this row, before covered_until.
                   min(a.created_at)
                       FILTER (WHERE a.activity_type = 'review_completed')
                       OVER (PARTITION BY a.study_id ORDER BY a.created_at DESC)
                       AS resolved_at
              FROM collaboration_activity AS a
             WHERE a.created_at < v_covered) AS w
      JOIN studies AS s ON s.id = w.study_id
     GROUP BY 1, 2;

    DELETE FROM organization_member_last_activity;
    INSERT INTO organization_member_last_activity
    SELECT s.organization_id, a.user_id, max(a.created_at)
      FROM collaboration_activity AS a
      JOIN studies AS s ON s.id = a.study_id
     WHERE a.user_id IS NOT NULL
       AND a.created_at < v_covered
     GROUP BY 1, 2;

    UPDATE organization_activity_rollup_state
       SET covered_until = v_covered,
           refreshed_at = now(),
           refresh_ms = round(extract(epoch FROM clock_timestamp() - v_started) * 1000);
    RETURN v_covered;
END
$$
