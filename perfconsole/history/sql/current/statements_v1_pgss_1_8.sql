-- pg_stat_statements 1.8: no toplevel (every entry is top level), no
-- stats_since and no info view: a reset shows as counters that went down.
-- Every entry of the current database, cumulative. The placeholder source
-- is the extension's function (with or without texts), schema its schema.
SELECT s.dbid::bigint AS dbid,
       s.userid::bigint AS userid,
       s.queryid AS queryid,
       true AS toplevel,
       s.query AS query,
       NULL::timestamptz AS reset_at,
       jsonb_build_object(
           'calls', s.calls,
           'rows', s.rows,
           'total_exec_time', s.total_exec_time,
           'total_plan_time', s.total_plan_time,
           'shared_blks_hit', s.shared_blks_hit,
           'shared_blks_read', s.shared_blks_read,
           'shared_blks_dirtied', s.shared_blks_dirtied,
           'shared_blks_written', s.shared_blks_written,
           'temp_blks_read', s.temp_blks_read,
           'temp_blks_written', s.temp_blks_written,
           'blk_read_time', s.blk_read_time,
           'blk_write_time', s.blk_write_time,
           'wal_bytes', s.wal_bytes) AS counters
FROM {source} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid IS NOT NULL
