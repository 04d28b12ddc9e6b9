-- Store pg_stat_statements' deltas since the last collection, as
-- counters_v1.sql does, with two differences: an entry's text is stored once
-- (history_statementtext), and its deltas go to history_statementdelta's
-- columns. The placeholder "current" (in braces) reads the extension's
-- entries without their texts; "texts" reads them with their texts, and runs
-- only when an entry is new (reading every text costs more).
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
new_keys AS MATERIALIZED (
    SELECT l.dbid, l.userid, l.queryid, l.toplevel
    FROM live l
    WHERE NOT EXISTS (
        SELECT 1 FROM known k
        WHERE (k.dbid, k.userid, k.queryid, k.toplevel)
              = (l.dbid, l.userid, l.queryid, l.toplevel))
),
texts AS MATERIALIZED (
    SELECT x.dbid, x.userid, x.queryid, x.toplevel, x.query
    FROM ({texts}) x
    WHERE EXISTS (SELECT 1 FROM new_keys)
),
added AS (
    INSERT INTO history_statementtext
        (database_id, dbid, userid, queryid, toplevel, query, first_seen)
    SELECT %(database)s, n.dbid, n.userid, n.queryid, n.toplevel,
           coalesce(x.query, ''), %(taken_at)s
    FROM new_keys n
    LEFT JOIN texts x ON (x.dbid, x.userid, x.queryid, x.toplevel)
                       = (n.dbid, n.userid, n.queryid, n.toplevel)
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
-- c: the counters now; p: what to subtract (nothing after a restart).
delta AS MATERIALIZED (
    SELECT d.id, d.counters AS c,
           CASE WHEN d.restarted THEN '{}'::jsonb ELSE d.prev_counters END AS p
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
           greatest((d.c ->> 'calls')::numeric
                    - coalesce((d.p ->> 'calls')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'rows')::numeric
                    - coalesce((d.p ->> 'rows')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'total_exec_time')::numeric
                    - coalesce((d.p ->> 'total_exec_time')::numeric, 0), 0)::float8,
           greatest((d.c ->> 'total_plan_time')::numeric
                    - coalesce((d.p ->> 'total_plan_time')::numeric, 0), 0)::float8,
           greatest((d.c ->> 'shared_blks_hit')::numeric
                    - coalesce((d.p ->> 'shared_blks_hit')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'shared_blks_read')::numeric
                    - coalesce((d.p ->> 'shared_blks_read')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'shared_blks_dirtied')::numeric
                    - coalesce((d.p ->> 'shared_blks_dirtied')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'shared_blks_written')::numeric
                    - coalesce((d.p ->> 'shared_blks_written')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'temp_blks_read')::numeric
                    - coalesce((d.p ->> 'temp_blks_read')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'temp_blks_written')::numeric
                    - coalesce((d.p ->> 'temp_blks_written')::numeric, 0), 0)::bigint,
           greatest((d.c ->> 'blk_read_time')::numeric
                    - coalesce((d.p ->> 'blk_read_time')::numeric, 0), 0)::float8,
           greatest((d.c ->> 'blk_write_time')::numeric
                    - coalesce((d.p ->> 'blk_write_time')::numeric, 0), 0)::float8,
           greatest(coalesce((d.c ->> 'wal_bytes')::numeric, 0)
                    - coalesce((d.p ->> 'wal_bytes')::numeric, 0), 0)::bigint
    FROM delta d
    RETURNING 1
),
kept AS (
    UPDATE history_baseline b
    SET reset_at = d.reset_at, counters = d.counters
    FROM diff d
    WHERE b.database_id = %(database)s AND b.source = 'statement'
      AND b.key = d.key AND NOT d.new
      AND (d.restarted OR d.counters IS DISTINCT FROM d.prev_counters)
    RETURNING 1
),
added_baseline AS (
    INSERT INTO history_baseline (database_id, source, key, reset_at, counters)
    SELECT %(database)s, 'statement', d.key, d.reset_at, d.counters
    FROM diff d
    WHERE d.new
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
       (SELECT count(*) FROM kept)
           + (SELECT count(*) FROM added_baseline) AS kept,
       (SELECT count(*) FROM gone) AS gone
