-- A sample of pg_stat_activity in the database: client sessions by state,
-- and the sessions at work (not idle) by wait event type and event. Summed by
-- the rollups, the counts divided by the number of collections give the mean
-- number of sessions in each state or wait.
INSERT INTO history_counterdelta
    (database_id, level, period_start, source, key, counters, gauges)
SELECT %(database)s, 0, %(taken_at)s, 'activity', '',
       coalesce(jsonb_object_agg(s.name, s.sessions), '{}'), NULL
FROM (
    SELECT x.name, count(*) AS sessions
    FROM (
        SELECT 'state:' || coalesce(a.state, 'unknown') AS name
        FROM pg_stat_activity a
        WHERE a.datname = current_database()
          AND a.backend_type = 'client backend'
          AND a.pid <> pg_backend_pid()
        UNION ALL
        SELECT 'wait:' || a.wait_event_type || ':' || a.wait_event
        FROM pg_stat_activity a
        WHERE a.datname = current_database()
          AND a.pid <> pg_backend_pid()
          AND a.state IS DISTINCT FROM 'idle'
          AND a.wait_event IS NOT NULL
    ) x
    GROUP BY x.name
) s
