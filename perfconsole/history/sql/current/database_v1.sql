-- The database's cumulative counters (every numeric column of
-- pg_stat_database but the backend count, whatever the server version).
SELECT ''::text AS key,
       d.stats_reset AS reset_at,
       (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
        FROM jsonb_each(to_jsonb(d)) e
        WHERE jsonb_typeof(e.value) = 'number'
          AND e.key NOT IN ('datid', 'numbackends')) AS counters,
       jsonb_build_object('numbackends', d.numbackends) AS gauges
FROM pg_stat_database d
WHERE d.datname = current_database()
