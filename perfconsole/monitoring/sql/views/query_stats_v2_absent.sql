-- query_stats v2 placeholder: pg_stat_statements is not usable in this
-- database (not installed, or not in shared_preload_libraries). Same columns
-- as the real view, no rows; `manage.py syncstatviews` swaps in the real one.
CREATE OR REPLACE VIEW query_stats AS
SELECT NULL::text AS id,
       NULL::bigint AS queryid,
       NULL::bigint AS userid,
       NULL::text COLLATE "C" AS user_name,  -- as pg_roles.rolname
       NULL::boolean AS toplevel,
       NULL::text AS query,
       NULL::bigint AS calls,
       NULL::double precision AS total_time_ms,
       NULL::double precision AS exec_time_ms,
       NULL::double precision AS plan_time_ms,
       NULL::double precision AS mean_time_ms,
       NULL::double precision AS min_time_ms,
       NULL::double precision AS max_time_ms,
       NULL::double precision AS stddev_time_ms,
       NULL::bigint AS rows,
       NULL::bigint AS shared_blks_hit,
       NULL::bigint AS shared_blks_read,
       NULL::double precision AS cache_hit_ratio,
       NULL::double precision AS blk_read_time_ms,
       NULL::double precision AS blk_write_time_ms,
       NULL::double precision AS io_time_ms,
       NULL::bigint AS temp_blks_written,
       NULL::numeric AS wal_bytes,
       NULL::double precision AS share_of_total,
       NULL::timestamptz AS stats_since,
       NULL::boolean AS is_console
WHERE false
