-- Each user table's cumulative counters; live and dead rows are gauges. A
-- pg_stat_reset() changes the database's stats_reset, which starts a new
-- baseline for every table.
SELECT quote_ident(t.schemaname) || '.' || quote_ident(t.relname) AS key,
       (SELECT d.stats_reset FROM pg_stat_database d
        WHERE d.datname = current_database()) AS reset_at,
       jsonb_build_object(
           'seq_scan', t.seq_scan,
           'seq_tup_read', t.seq_tup_read,
           'idx_scan', coalesce(t.idx_scan, 0),
           'idx_tup_fetch', coalesce(t.idx_tup_fetch, 0),
           'n_tup_ins', t.n_tup_ins,
           'n_tup_upd', t.n_tup_upd,
           'n_tup_del', t.n_tup_del,
           'n_tup_hot_upd', t.n_tup_hot_upd,
           'vacuum_count', t.vacuum_count,
           'autovacuum_count', t.autovacuum_count,
           'analyze_count', t.analyze_count,
           'autoanalyze_count', t.autoanalyze_count) AS counters,
       jsonb_build_object(
           'n_live_tup', t.n_live_tup,
           'n_dead_tup', t.n_dead_tup) AS gauges
FROM pg_stat_user_tables t
