-- Each user index's cumulative counters; its table is kept as a gauge.
SELECT quote_ident(i.schemaname) || '.' || quote_ident(i.indexrelname) AS key,
       (SELECT d.stats_reset FROM pg_stat_database d
        WHERE d.datname = current_database()) AS reset_at,
       jsonb_build_object(
           'idx_scan', i.idx_scan,
           'idx_tup_read', i.idx_tup_read,
           'idx_tup_fetch', i.idx_tup_fetch) AS counters,
       jsonb_build_object(
           'table', quote_ident(i.schemaname) || '.' || quote_ident(i.relname))
           AS gauges
FROM pg_stat_user_indexes i
