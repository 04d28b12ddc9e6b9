-- Move the statements' baseline from history_baseline (JSON counters, keyed
-- by the text's id) to history_statementbaseline (one column per counter,
-- keyed by the entry's identity), so the next collection carries on from it.
-- Unlogged like history_baseline (derived state: after a crash the next
-- collection only sets a new baseline). A collection rewrites the row of
-- every entry that ran, often all of them: a page filled to 45 % has room
-- for a new version of each of its rows, so the updates stay on their page
-- (HOT) and add no index entry.
ALTER TABLE history_statementbaseline SET UNLOGGED;
ALTER TABLE history_statementbaseline SET (fillfactor = 45);
INSERT INTO history_statementbaseline
    (database_id, dbid, userid, queryid, toplevel, statement_id, reset_at,
     calls, rows, total_exec_time, total_plan_time, shared_blks_hit,
     shared_blks_read, shared_blks_dirtied, shared_blks_written,
     temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
     wal_bytes)
SELECT b.database_id, t.dbid, t.userid, t.queryid, t.toplevel, t.id,
       b.reset_at,
       coalesce((b.counters ->> 'calls')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'rows')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'total_exec_time')::numeric, 0)::float8,
       coalesce((b.counters ->> 'total_plan_time')::numeric, 0)::float8,
       coalesce((b.counters ->> 'shared_blks_hit')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'shared_blks_read')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'shared_blks_dirtied')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'shared_blks_written')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'temp_blks_read')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'temp_blks_written')::numeric, 0)::bigint,
       coalesce((b.counters ->> 'blk_read_time')::numeric, 0)::float8,
       coalesce((b.counters ->> 'blk_write_time')::numeric, 0)::float8,
       coalesce((b.counters ->> 'wal_bytes')::numeric, 0)::bigint
FROM history_baseline b
JOIN history_statementtext t
  ON t.id = b.key::bigint AND t.database_id = b.database_id
WHERE b.source = 'statement';
DELETE FROM history_baseline WHERE source = 'statement';
