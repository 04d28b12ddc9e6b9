-- Roll one level's statement rows into the next level's periods (unit:
-- hour or day, in UTC) over [start, end), summing every column.
INSERT INTO history_statementdelta
    (database_id, level, period_start, statement_id, calls, rows,
     total_exec_time, total_plan_time, shared_blks_hit, shared_blks_read,
     shared_blks_dirtied, shared_blks_written, temp_blks_read,
     temp_blks_written, blk_read_time, blk_write_time, wal_bytes)
SELECT d.database_id, %(level)s, date_trunc(%(unit)s, d.period_start, 'UTC'),
       d.statement_id,
       sum(d.calls)::bigint, sum(d.rows)::bigint,
       sum(d.total_exec_time), sum(d.total_plan_time),
       sum(d.shared_blks_hit)::bigint, sum(d.shared_blks_read)::bigint,
       sum(d.shared_blks_dirtied)::bigint, sum(d.shared_blks_written)::bigint,
       sum(d.temp_blks_read)::bigint, sum(d.temp_blks_written)::bigint,
       sum(d.blk_read_time), sum(d.blk_write_time), sum(d.wal_bytes)::bigint
FROM history_statementdelta d
WHERE d.database_id = %(database)s
  AND d.level = %(from_level)s
  AND d.period_start >= %(start)s
  AND d.period_start < %(end)s
GROUP BY 1, 2, 3, 4
