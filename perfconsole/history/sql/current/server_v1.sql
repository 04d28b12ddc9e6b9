-- One server-wide view with a single row ({view}: pg_stat_bgwriter,
-- pg_stat_checkpointer, pg_stat_wal): every numeric column is a counter, so
-- the columns each server version adds or drops need no new file.
SELECT ''::text AS key,
       v.stats_reset AS reset_at,
       (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
        FROM jsonb_each(to_jsonb(v)) e
        WHERE jsonb_typeof(e.value) = 'number') AS counters,
       NULL::jsonb AS gauges
FROM {view} v
