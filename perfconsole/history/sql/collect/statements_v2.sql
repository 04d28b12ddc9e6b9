-- Store pg_stat_statements' deltas since the last collection and move their
-- baseline, in one statement, as counters_v1.sql does for the other sources
-- (same rules: only what changed, a restart counts from zero, no delta
-- without a baseline, entries gone leave the baseline). Unlike version 1,
-- the baseline is history_statementbaseline, keyed by the entry's identity
-- with one column per counter: one hash join of the entries and the
-- baseline tells each entry changed, new or gone, and a delta is a
-- subtraction, with no JSON built or parsed. Only an entry without a
-- baseline is looked up in history_statementtext, and the texts are read
-- only when an entry is new (reading every text costs more). The
-- placeholder "current" (in braces) reads the entries without their texts,
-- "texts" with them.
WITH live AS MATERIALIZED (
    {current}
),
-- Each entry with its baseline (new: none), and each baseline row without
-- an entry (gone); changed: any counter moved; restarted: new, reset
-- (reset_at) or evicted and added again (fewer calls), so its delta is its
-- value now.
diff AS MATERIALIZED (
    SELECT l.*, p.statement_id,
           p.statement_id IS NULL AS new,
           l.dbid IS NULL AS gone,
           p.dbid AS p_dbid, p.userid AS p_userid, p.queryid AS p_queryid,
           p.toplevel AS p_toplevel,
           (
            l.reset_at, l.calls, l.rows, l.total_exec_time, l.total_plan_time,
            l.shared_blks_hit, l.shared_blks_read, l.shared_blks_dirtied,
            l.shared_blks_written, l.temp_blks_read, l.temp_blks_written,
            l.blk_read_time, l.blk_write_time, l.wal_bytes)
           IS DISTINCT FROM (
            p.reset_at, p.calls, p.rows, p.total_exec_time, p.total_plan_time,
            p.shared_blks_hit, p.shared_blks_read, p.shared_blks_dirtied,
            p.shared_blks_written, p.temp_blks_read, p.temp_blks_written,
            p.blk_read_time, p.blk_write_time, p.wal_bytes) AS changed,
           (p.statement_id IS NULL
            OR l.reset_at IS DISTINCT FROM p.reset_at
            OR l.calls < p.calls) AS restarted,
           p.calls AS p_calls, p.rows AS p_rows,
           p.total_exec_time AS p_total_exec_time,
           p.total_plan_time AS p_total_plan_time,
           p.shared_blks_hit AS p_shared_blks_hit,
           p.shared_blks_read AS p_shared_blks_read,
           p.shared_blks_dirtied AS p_shared_blks_dirtied,
           p.shared_blks_written AS p_shared_blks_written,
           p.temp_blks_read AS p_temp_blks_read,
           p.temp_blks_written AS p_temp_blks_written,
           p.blk_read_time AS p_blk_read_time,
           p.blk_write_time AS p_blk_write_time, p.wal_bytes AS p_wal_bytes
    FROM live l
    FULL JOIN (SELECT * FROM history_statementbaseline
               WHERE database_id = %(database)s) p
      ON (p.dbid, p.userid, p.queryid, p.toplevel)
         = (l.dbid, l.userid, l.queryid, l.toplevel)
),
-- Entries without a baseline (new, evicted and added again, or a baseline
-- lost in a crash), with their text's id when it is stored already.
unmatched AS MATERIALIZED (
    SELECT d.dbid, d.userid, d.queryid, d.toplevel, t.id
    FROM diff d
    LEFT JOIN history_statementtext t
      ON t.database_id = %(database)s
     AND (t.dbid, t.userid, t.queryid, t.toplevel)
         = (d.dbid, d.userid, d.queryid, d.toplevel)
    WHERE d.new
),
texts AS MATERIALIZED (
    SELECT x.dbid, x.userid, x.queryid, x.toplevel, x.query
    FROM ({texts}) x
    WHERE EXISTS (SELECT 1 FROM unmatched WHERE id IS NULL)
),
added AS (
    INSERT INTO history_statementtext
        (database_id, dbid, userid, queryid, toplevel, query, first_seen)
    SELECT %(database)s, n.dbid, n.userid, n.queryid, n.toplevel,
           coalesce(x.query, ''), %(taken_at)s
    FROM unmatched n
    LEFT JOIN texts x ON (x.dbid, x.userid, x.queryid, x.toplevel)
                         = (n.dbid, n.userid, n.queryid, n.toplevel)
    WHERE n.id IS NULL
    ON CONFLICT DO NOTHING
    RETURNING id, dbid, userid, queryid, toplevel
),
-- The entries that changed, each with its statement's id.
changes AS MATERIALIZED (
    SELECT d.*, d.statement_id AS id
    FROM diff d
    WHERE NOT d.new AND NOT d.gone AND d.changed
    UNION ALL
    SELECT d.*, i.id
    FROM diff d
    JOIN (SELECT id, dbid, userid, queryid, toplevel FROM unmatched
          WHERE id IS NOT NULL
          UNION ALL
          SELECT id, dbid, userid, queryid, toplevel FROM added) i
      ON (i.dbid, i.userid, i.queryid, i.toplevel)
         = (d.dbid, d.userid, d.queryid, d.toplevel)
    WHERE d.new
),
stored AS (
    INSERT INTO history_statementdelta
        (database_id, level, period_start, statement_id,
         calls, rows, total_exec_time, total_plan_time, shared_blks_hit,
         shared_blks_read, shared_blks_dirtied, shared_blks_written,
         temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
         wal_bytes)
    SELECT %(database)s, 0, %(taken_at)s, c.id,
           greatest(c.calls
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_calls END, 0),
           greatest(c.rows
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_rows END, 0),
           greatest(c.total_exec_time
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_total_exec_time END, 0),
           greatest(c.total_plan_time
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_total_plan_time END, 0),
           greatest(c.shared_blks_hit
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_shared_blks_hit END, 0),
           greatest(c.shared_blks_read
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_shared_blks_read END, 0),
           greatest(c.shared_blks_dirtied
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_shared_blks_dirtied END, 0),
           greatest(c.shared_blks_written
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_shared_blks_written END, 0),
           greatest(c.temp_blks_read
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_temp_blks_read END, 0),
           greatest(c.temp_blks_written
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_temp_blks_written END, 0),
           greatest(c.blk_read_time
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_blk_read_time END, 0),
           greatest(c.blk_write_time
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_blk_write_time END, 0),
           greatest(c.wal_bytes
                    - CASE WHEN c.restarted THEN 0 ELSE c.p_wal_bytes END, 0)
    FROM changes c
    WHERE c.calls > 0
      -- The first collection only sets the baseline.
      AND EXISTS (SELECT 1 FROM history_statementbaseline b
                  WHERE b.database_id = %(database)s)
    -- By statement: the primary key's new entries are appended at its right
    -- edge, filling its pages (in any order they split them in halves).
    ORDER BY c.id
    RETURNING 1
),
kept AS (
    UPDATE history_statementbaseline b
    SET reset_at = c.reset_at,
        calls = c.calls, rows = c.rows, total_exec_time = c.total_exec_time,
        total_plan_time = c.total_plan_time,
        shared_blks_hit = c.shared_blks_hit,
        shared_blks_read = c.shared_blks_read,
        shared_blks_dirtied = c.shared_blks_dirtied,
        shared_blks_written = c.shared_blks_written,
        temp_blks_read = c.temp_blks_read,
        temp_blks_written = c.temp_blks_written,
        blk_read_time = c.blk_read_time, blk_write_time = c.blk_write_time,
        wal_bytes = c.wal_bytes
    FROM changes c
    WHERE b.database_id = %(database)s AND NOT c.new
      AND (b.dbid, b.userid, b.queryid, b.toplevel)
          = (c.dbid, c.userid, c.queryid, c.toplevel)
    RETURNING 1
),
added_baseline AS (
    INSERT INTO history_statementbaseline
        (database_id, dbid, userid, queryid, toplevel, statement_id, reset_at,
         calls, rows, total_exec_time, total_plan_time, shared_blks_hit,
         shared_blks_read, shared_blks_dirtied, shared_blks_written,
         temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
         wal_bytes)
    SELECT %(database)s, c.dbid, c.userid, c.queryid, c.toplevel, c.id,
           c.reset_at,
           c.calls, c.rows, c.total_exec_time, c.total_plan_time,
           c.shared_blks_hit, c.shared_blks_read, c.shared_blks_dirtied,
           c.shared_blks_written, c.temp_blks_read, c.temp_blks_written,
           c.blk_read_time, c.blk_write_time, c.wal_bytes
    FROM changes c
    WHERE c.new
    RETURNING 1
),
gone AS (
    DELETE FROM history_statementbaseline b
    USING diff d
    WHERE d.gone AND b.database_id = %(database)s
      AND (b.dbid, b.userid, b.queryid, b.toplevel)
          = (d.p_dbid, d.p_userid, d.p_queryid, d.p_toplevel)
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored) AS stored,
       (SELECT count(*) FROM kept)
           + (SELECT count(*) FROM added_baseline) AS kept,
       (SELECT count(*) FROM gone) AS gone
