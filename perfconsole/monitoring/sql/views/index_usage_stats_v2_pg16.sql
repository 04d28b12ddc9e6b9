-- index_usage_stats v2 for PostgreSQL 16 and later: as v1, but an index whose
-- table or index another session holds (or waits for) in ACCESS EXCLUSIVE
-- mode has no size and no definition, and size_locked_by names that
-- session's pid (0: a prepared transaction). pg_relation_size() and
-- pg_get_indexdef() would wait for that lock and block the whole view.
-- Ratios are percentages; index_usage_ratio is the share of the table's
-- scans that used an index (idx_scan / (seq_scan + idx_scan)).
CREATE OR REPLACE VIEW index_usage_stats AS
WITH exclusive_locks AS MATERIALIZED (
    SELECT l.relation, (array_agg(coalesce(l.pid, 0) ORDER BY l.granted DESC))[1] AS pid
    FROM pg_locks l
    WHERE l.locktype = 'relation'
      AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid IS DISTINCT FROM pg_backend_pid()
    GROUP BY l.relation
)
SELECT i.indexrelid::bigint AS indexrelid,
       i.schemaname::text AS schema_name,
       i.relname::text AS table_name,
       i.indexrelname::text AS index_name,
       i.relid::bigint AS table_relid,
       CASE WHEN lk.pid IS NULL THEN pg_relation_size(i.indexrelid) END::bigint
           AS index_size_bytes,
       i.idx_scan::bigint AS idx_scan,
       i.idx_tup_read::bigint AS idx_tup_read,
       i.idx_tup_fetch::bigint AS idx_tup_fetch,
       t.seq_scan::bigint AS table_seq_scan,
       coalesce(t.idx_scan, 0)::bigint AS table_idx_scan,
       round(100.0 * coalesce(t.idx_scan, 0)
             / nullif(t.seq_scan + coalesce(t.idx_scan, 0), 0), 2)::double precision
           AS index_usage_ratio,
       x.indisunique AS is_unique,
       x.indisprimary AS is_primary,
       x.indisvalid AS is_valid,
       CASE WHEN lk.pid IS NULL THEN pg_get_indexdef(i.indexrelid) END::text
           AS definition,
       i.last_idx_scan AS last_idx_scan,
       lk.pid::integer AS size_locked_by
FROM pg_stat_user_indexes i
JOIN pg_index x ON x.indexrelid = i.indexrelid
JOIN pg_stat_user_tables t ON t.relid = i.relid
LEFT JOIN LATERAL (
    SELECT e.pid FROM exclusive_locks e
    WHERE e.relation IN (i.indexrelid, i.relid)
    LIMIT 1
) lk ON true
