-- A sample of pg_stat_activity in the database, as one object of counters:
-- client sessions by state, and the sessions at work (not idle) by wait
-- event type and event. The collector's own session is left out.
SELECT ''::text AS key,
       NULL::timestamptz AS reset_at,
       coalesce(jsonb_object_agg(s.name, s.sessions), '{}') AS counters,
       NULL::jsonb AS gauges
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
