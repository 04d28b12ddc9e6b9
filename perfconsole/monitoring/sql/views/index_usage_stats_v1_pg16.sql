-- index_usage_stats v1 for PostgreSQL 16 and later: as the 14 version, with
-- last_idx_scan. Ratios are percentages; index_usage_ratio is the share of
-- the table's scans that used an index (idx_scan / (seq_scan + idx_scan)).
CREATE OR REPLACE VIEW index_usage_stats AS
SELECT i.indexrelid::bigint AS indexrelid,
       i.schemaname::text AS schema_name,
       i.relname::text AS table_name,
       i.indexrelname::text AS index_name,
       i.relid::bigint AS table_relid,
       pg_relation_size(i.indexrelid)::bigint AS index_size_bytes,
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
       pg_get_indexdef(i.indexrelid)::text AS definition,
       i.last_idx_scan AS last_idx_scan
FROM pg_stat_user_indexes i
JOIN pg_index x ON x.indexrelid = i.indexrelid
JOIN pg_stat_user_tables t ON t.relid = i.relid
