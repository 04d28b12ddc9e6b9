-- Store pg_stat_statements' deltas since the last collection, as
-- counters_v1.sql does, with two differences: an entry's text is stored once
-- (history_statementtext), and its deltas go to history_statementdelta's
-- columns. The placeholder "current" (in braces) reads the extension's view
-- once.
WITH live AS MATERIALIZED (
    {current}
),
known AS (
    SELECT t.id, t.dbid, t.userid, t.queryid, t.toplevel
    FROM history_statementtext t
    JOIN live l ON (l.dbid, l.userid, l.queryid, l.toplevel)
                 = (t.dbid, t.userid, t.queryid, t.toplevel)
    WHERE t.database_id = %(database)s
),
added AS (
    INSERT INTO history_statementtext
        (database_id, dbid, userid, queryid, toplevel, query, first_seen)
    SELECT %(database)s, l.dbid, l.userid, l.queryid, l.toplevel, l.query,
           %(taken_at)s
    FROM live l
    WHERE NOT EXISTS (
        SELECT 1 FROM known k
        WHERE (k.dbid, k.userid, k.queryid, k.toplevel)
              = (l.dbid, l.userid, l.queryid, l.toplevel))
    ON CONFLICT DO NOTHING
    RETURNING id, dbid, userid, queryid, toplevel
),
cur AS (
    SELECT i.id, i.id::text AS key, l.reset_at, l.counters
    FROM live l
    JOIN (SELECT * FROM known UNION ALL SELECT * FROM added) i
      ON (i.dbid, i.userid, i.queryid, i.toplevel)
         = (l.dbid, l.userid, l.queryid, l.toplevel)
),
prev AS (
    SELECT b.key, b.reset_at, b.counters
    FROM history_baseline b
    WHERE b.database_id = %(database)s AND b.source = 'statement'
),
diff AS (
    SELECT c.id, c.key, c.reset_at, c.counters,
           p.key IS NULL AS new,
           p.counters AS prev_counters,
           (p.key IS NULL
            OR c.reset_at IS DISTINCT FROM p.reset_at
            OR (c.counters ->> 'calls')::numeric
               < (p.counters ->> 'calls')::numeric) AS restarted
    FROM cur c
    LEFT JOIN prev p ON p.key = c.key
),
delta AS (
    SELECT d.id,
           CASE WHEN d.restarted THEN d.counters
                ELSE (SELECT jsonb_object_agg(
                          e.key,
                          greatest(e.value::numeric
                                   - coalesce((d.prev_counters ->> e.key)::numeric, 0),
                                   0))
                      FROM jsonb_each(d.counters) e)
           END AS counters
    FROM diff d
    WHERE EXISTS (SELECT 1 FROM prev)
      AND (d.restarted OR d.counters IS DISTINCT FROM d.prev_counters)
      AND (d.counters ->> 'calls')::numeric > 0
),
stored AS (
    INSERT INTO history_statementdelta
        (database_id, level, period_start, statement_id, calls, rows,
         total_exec_time, total_plan_time, shared_blks_hit, shared_blks_read,
         shared_blks_dirtied, shared_blks_written, temp_blks_read,
         temp_blks_written, blk_read_time, blk_write_time, wal_bytes)
    SELECT %(database)s, 0, %(taken_at)s, d.id,
           (d.counters ->> 'calls')::bigint,
           (d.counters ->> 'rows')::bigint,
           (d.counters ->> 'total_exec_time')::double precision,
           (d.counters ->> 'total_plan_time')::double precision,
           (d.counters ->> 'shared_blks_hit')::bigint,
           (d.counters ->> 'shared_blks_read')::bigint,
           (d.counters ->> 'shared_blks_dirtied')::bigint,
           (d.counters ->> 'shared_blks_written')::bigint,
           (d.counters ->> 'temp_blks_read')::bigint,
           (d.counters ->> 'temp_blks_written')::bigint,
           (d.counters ->> 'blk_read_time')::double precision,
           (d.counters ->> 'blk_write_time')::double precision,
           coalesce((d.counters ->> 'wal_bytes')::bigint, 0)
    FROM delta d
    RETURNING 1
),
kept AS (
    INSERT INTO history_baseline (database_id, source, key, reset_at, counters)
    SELECT %(database)s, 'statement', d.key, d.reset_at, d.counters
    FROM diff d
    WHERE d.new OR d.restarted OR d.counters IS DISTINCT FROM d.prev_counters
    ON CONFLICT (database_id, source, key) DO UPDATE
        SET reset_at = excluded.reset_at, counters = excluded.counters
    RETURNING 1
),
gone AS (
    DELETE FROM history_baseline b
    WHERE b.database_id = %(database)s AND b.source = 'statement'
      AND NOT EXISTS (SELECT 1 FROM cur c WHERE c.key = b.key)
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored) AS stored,
       (SELECT count(*) FROM kept) AS kept,
       (SELECT count(*) FROM gone) AS gone
