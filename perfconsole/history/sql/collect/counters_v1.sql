-- Store one source's deltas since the last collection and move its baseline,
-- in one statement: the placeholder "current" (in braces) reads the live
-- view once (key, reset_at, counters, gauges). An object whose reset_at changed, or one of whose
-- counters went down (a reset), or that is new, starts a new baseline: its
-- delta is its current value, never negative. A source without any baseline
-- yet stores no delta (its totals are lifetime totals, not an interval's).
-- Only objects that changed get a delta row or a baseline update; objects
-- gone from the view leave the baseline.
WITH cur AS MATERIALIZED (
    {current}
),
prev AS (
    SELECT b.key, b.reset_at, b.counters, b.gauges
    FROM history_baseline b
    WHERE b.database_id = %(database)s AND b.source = %(source)s
),
diff AS (
    SELECT c.key, c.reset_at, c.counters, c.gauges,
           p.key IS NULL AS new,
           p.counters AS prev_counters,
           p.gauges AS prev_gauges,
           (p.key IS NULL
            OR c.reset_at IS DISTINCT FROM p.reset_at
            OR EXISTS (
                SELECT 1 FROM jsonb_each(c.counters) e
                WHERE e.value::numeric
                      < coalesce((p.counters ->> e.key)::numeric, 0))) AS restarted
    FROM cur c
    LEFT JOIN prev p ON p.key = c.key
),
delta AS (
    SELECT d.key, d.gauges, d.prev_gauges,
           coalesce((
               SELECT jsonb_object_agg(v.name, v.amount)
               FROM (
                   SELECT e.key AS name,
                          CASE WHEN d.restarted THEN e.value::numeric
                               ELSE e.value::numeric
                                    - coalesce((d.prev_counters ->> e.key)::numeric, 0)
                          END AS amount
                   FROM jsonb_each(d.counters) e
               ) v
               WHERE v.amount <> 0), '{}') AS counters
    FROM diff d
    WHERE EXISTS (SELECT 1 FROM prev)
),
stored AS (
    INSERT INTO history_counterdelta
        (database_id, level, period_start, source, key, counters, gauges)
    SELECT %(database)s, 0, %(taken_at)s, %(source)s, d.key, d.counters, d.gauges
    FROM delta d
    WHERE d.counters <> '{}' OR d.gauges IS DISTINCT FROM d.prev_gauges
    RETURNING 1
),
kept AS (
    INSERT INTO history_baseline
        (database_id, source, key, reset_at, counters, gauges)
    SELECT %(database)s, %(source)s, d.key, d.reset_at, d.counters, d.gauges
    FROM diff d
    WHERE d.new
       OR d.counters IS DISTINCT FROM d.prev_counters
       OR d.gauges IS DISTINCT FROM d.prev_gauges
       OR d.restarted
    ON CONFLICT (database_id, source, key) DO UPDATE
        SET reset_at = excluded.reset_at,
            counters = excluded.counters,
            gauges = excluded.gauges
    RETURNING 1
),
gone AS (
    DELETE FROM history_baseline b
    WHERE b.database_id = %(database)s AND b.source = %(source)s
      AND NOT EXISTS (SELECT 1 FROM cur c WHERE c.key = b.key)
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored) AS stored,
       (SELECT count(*) FROM kept) AS kept,
       (SELECT count(*) FROM gone) AS gone
