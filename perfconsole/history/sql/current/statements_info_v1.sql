-- pg_stat_statements_info (extension 1.9+): entries evicted, last reset.
SELECT ''::text AS key,
       i.stats_reset AS reset_at,
       jsonb_build_object('dealloc', i.dealloc) AS counters,
       NULL::jsonb AS gauges
FROM {schema}.pg_stat_statements_info i
