-- query_stats v2 for pg_stat_statements 1.8 (a PostgreSQL 13 extension left
-- un-updated after pg_upgrade): no toplevel column, blk_read/write_time.
-- {pgss} is replaced by the extension's schema-qualified view.
-- v2: every statement, the console's own marked by is_console (they carry
-- the tag /* perfconsole */) instead of left out, so a page can show them.
CREATE OR REPLACE VIEW query_stats AS
SELECT concat_ws('.', s.queryid, s.userid)::text AS id,
       s.queryid::bigint AS queryid,
       s.userid::bigint AS userid,
       coalesce(r.rolname, s.userid::text)::text AS user_name,
       true AS toplevel,
       s.query::text AS query,
       s.calls::bigint AS calls,
       s.total_time_ms,
       s.total_exec_time::double precision AS exec_time_ms,
       s.total_plan_time::double precision AS plan_time_ms,
       (s.total_time_ms / s.calls)::double precision AS mean_time_ms,
       s.min_exec_time::double precision AS min_time_ms,
       s.max_exec_time::double precision AS max_time_ms,
       s.stddev_exec_time::double precision AS stddev_time_ms,
       s.rows::bigint AS rows,
       s.shared_blks_hit::bigint AS shared_blks_hit,
       s.shared_blks_read::bigint AS shared_blks_read,
       round(100.0 * s.shared_blks_hit
             / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 2)::double precision
           AS cache_hit_ratio,
       s.blk_read_time::double precision AS blk_read_time_ms,
       s.blk_write_time::double precision AS blk_write_time_ms,
       (s.blk_read_time + s.blk_write_time)::double precision AS io_time_ms,
       s.temp_blks_written::bigint AS temp_blks_written,
       s.wal_bytes::numeric AS wal_bytes,
       round((100.0 * s.total_time_ms / nullif(s.db_total_ms, 0))::numeric, 2)::double precision
           AS share_of_total,
       NULL::timestamptz AS stats_since,
       strpos(s.query, '/* perfconsole */') > 0 AS is_console
FROM (
    SELECT p.*,
           (p.total_exec_time + p.total_plan_time)::double precision AS total_time_ms,
           sum(p.total_exec_time + p.total_plan_time) OVER ()::double precision
               AS db_total_ms
    FROM {pgss} p
    WHERE p.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND p.calls > 0
      AND p.queryid IS NOT NULL
) s
LEFT JOIN pg_roles r ON r.oid = s.userid
