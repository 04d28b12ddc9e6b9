-- table_performance_stats v2 for PostgreSQL 16 and later: as v1, but a table
-- that another session holds (or waits for) in ACCESS EXCLUSIVE mode, itself,
-- its TOAST table or one of their indexes, has no sizes, and size_locked_by
-- names that session's pid (0: a prepared transaction). The size functions
-- would wait for that lock and block the whole view. Ratios are percentages:
-- dead_ratio = dead / (live + dead), seq_scan_ratio = seq_scan / (seq_scan +
-- idx_scan), hit ratios = hit / (hit + read) of shared buffers. Sizes are
-- bytes.
CREATE OR REPLACE VIEW table_performance_stats AS
WITH exclusive_locks AS MATERIALIZED (
    SELECT l.relation, (array_agg(coalesce(l.pid, 0) ORDER BY l.granted DESC))[1] AS pid
    FROM pg_locks l
    WHERE l.locktype = 'relation'
      AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid IS DISTINCT FROM pg_backend_pid()
    GROUP BY l.relation
)
SELECT t.relid::bigint AS relid,
       t.schemaname::text AS schema_name,
       t.relname::text AS table_name,
       t.n_live_tup::bigint AS n_live_tup,
       t.n_dead_tup::bigint AS n_dead_tup,
       round(100.0 * t.n_dead_tup
             / nullif(t.n_live_tup + t.n_dead_tup, 0), 2)::double precision
           AS dead_ratio,
       t.seq_scan::bigint AS seq_scan,
       t.seq_tup_read::bigint AS seq_tup_read,
       coalesce(t.idx_scan, 0)::bigint AS idx_scan,
       coalesce(t.idx_tup_fetch, 0)::bigint AS idx_tup_fetch,
       round(100.0 * t.seq_scan
             / nullif(t.seq_scan + coalesce(t.idx_scan, 0), 0), 2)::double precision
           AS seq_scan_ratio,
       round(100.0 * coalesce(t.idx_scan, 0)
             / nullif(t.seq_scan + coalesce(t.idx_scan, 0), 0), 2)::double precision
           AS index_usage_ratio,
       t.n_tup_ins::bigint AS n_tup_ins,
       t.n_tup_upd::bigint AS n_tup_upd,
       t.n_tup_del::bigint AS n_tup_del,
       t.n_tup_hot_upd::bigint AS n_tup_hot_upd,
       t.n_mod_since_analyze::bigint AS n_mod_since_analyze,
       round(100.0 * io.heap_blks_hit
             / nullif(io.heap_blks_hit + io.heap_blks_read, 0), 2)::double precision
           AS heap_hit_ratio,
       round(100.0 * io.idx_blks_hit
             / nullif(io.idx_blks_hit + io.idx_blks_read, 0), 2)::double precision
           AS idx_hit_ratio,
       CASE WHEN lk.pid IS NULL THEN pg_relation_size(t.relid) END::bigint
           AS table_size_bytes,
       CASE WHEN lk.pid IS NULL THEN pg_indexes_size(t.relid) END::bigint
           AS indexes_size_bytes,
       CASE WHEN lk.pid IS NULL
            THEN coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)
       END::bigint AS toast_size_bytes,
       CASE WHEN lk.pid IS NULL THEN pg_total_relation_size(t.relid) END::bigint
           AS total_size_bytes,
       t.last_vacuum,
       t.last_autovacuum,
       t.last_analyze,
       t.last_autoanalyze,
       t.vacuum_count::bigint AS vacuum_count,
       t.autovacuum_count::bigint AS autovacuum_count,
       t.analyze_count::bigint AS analyze_count,
       t.autoanalyze_count::bigint AS autoanalyze_count,
       t.last_seq_scan AS last_seq_scan,
       lk.pid::integer AS size_locked_by
FROM pg_stat_user_tables t
JOIN pg_class c ON c.oid = t.relid
LEFT JOIN pg_statio_user_tables io ON io.relid = t.relid
LEFT JOIN LATERAL (
    SELECT e.pid FROM exclusive_locks e
    WHERE e.relation IN (t.relid, c.reltoastrelid)
       OR e.relation IN (SELECT x.indexrelid FROM pg_index x
                         WHERE x.indrelid IN (t.relid, c.reltoastrelid))
    LIMIT 1
) lk ON true
