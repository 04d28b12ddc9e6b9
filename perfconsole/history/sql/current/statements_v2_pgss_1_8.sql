-- pg_stat_statements 1.8: no toplevel (every entry is top level), no
-- stats_since and no info view: a reset shows as counters that went down.
-- Every entry of the current database, cumulative, one column per counter
-- (version 1 built a JSON object of them, then parsed it back). The
-- placeholder source is the extension's function (with or without texts),
-- schema its schema.
SELECT s.dbid::bigint AS dbid,
       s.userid::bigint AS userid,
       s.queryid AS queryid,
       true AS toplevel,
       s.query AS query,
       NULL::timestamptz AS reset_at,
       s.calls AS calls,
       s.rows AS rows,
       s.total_exec_time AS total_exec_time,
       s.total_plan_time AS total_plan_time,
       s.shared_blks_hit AS shared_blks_hit,
       s.shared_blks_read AS shared_blks_read,
       s.shared_blks_dirtied AS shared_blks_dirtied,
       s.shared_blks_written AS shared_blks_written,
       s.temp_blks_read AS temp_blks_read,
       s.temp_blks_written AS temp_blks_written,
       s.blk_read_time AS blk_read_time,
       s.blk_write_time AS blk_write_time,
       s.wal_bytes::bigint AS wal_bytes
FROM {source} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid IS NOT NULL
