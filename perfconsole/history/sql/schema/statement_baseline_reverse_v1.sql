-- Reverse of statement_baseline_v1.sql: the statements' baseline back in
-- history_baseline, as JSON counters keyed by the text's id.
INSERT INTO history_baseline (database_id, source, key, reset_at, counters)
SELECT s.database_id, 'statement', s.statement_id::text, s.reset_at,
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
           'wal_bytes', s.wal_bytes)
FROM history_statementbaseline s;
