-- Each user table's size in bytes (gauges): its main fork, its indexes and
-- its TOAST table. A table another session holds in ACCESS EXCLUSIVE mode is
-- left out: the size functions would wait for that lock.
WITH exclusive_locks AS MATERIALIZED (
    SELECT DISTINCT l.relation
    FROM pg_locks l
    WHERE l.locktype = 'relation'
      AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database
                        WHERE datname = current_database())
      AND l.pid IS DISTINCT FROM pg_backend_pid()
)
SELECT quote_ident(t.schemaname) || '.' || quote_ident(t.relname) AS key,
       NULL::timestamptz AS reset_at,
       '{}'::jsonb AS counters,
       jsonb_build_object(
           'table_bytes', pg_relation_size(t.relid),
           'index_bytes', pg_indexes_size(t.relid),
           'toast_bytes', coalesce(pg_total_relation_size(
               nullif(c.reltoastrelid, 0)), 0)) AS gauges
FROM pg_stat_user_tables t
JOIN pg_class c ON c.oid = t.relid
WHERE NOT EXISTS (
    SELECT 1 FROM exclusive_locks x
    WHERE x.relation = t.relid
       OR x.relation = c.reltoastrelid
       OR x.relation IN (SELECT indexrelid FROM pg_index
                         WHERE indrelid IN (t.relid, c.reltoastrelid)))
