-- Roll one level's counter rows into the next level's periods (unit: hour
-- or day, in UTC) over [start, end): counters are summed exactly (numeric),
-- gauges are the period's last ones.
INSERT INTO history_counterdelta
    (database_id, level, period_start, source, key, counters, gauges)
SELECT r.database_id, %(level)s, r.bucket, r.source, r.key,
       coalesce((
           SELECT jsonb_object_agg(t.name, t.total)
           FROM (
               SELECT e.key AS name, sum(e.value::numeric) AS total
               FROM unnest(r.all_counters) c(counters),
                    jsonb_each(c.counters) e
               GROUP BY e.key
           ) t
           WHERE t.total <> 0), '{}'),
       r.last_gauges
FROM (
    SELECT d.database_id, date_trunc(%(unit)s, d.period_start, 'UTC') AS bucket,
           d.source, d.key,
           array_agg(d.counters) AS all_counters,
           (array_agg(d.gauges ORDER BY d.period_start DESC))[1] AS last_gauges
    FROM history_counterdelta d
    WHERE d.database_id = %(database)s
      AND d.level = %(from_level)s
      AND d.period_start >= %(start)s
      AND d.period_start < %(end)s
    GROUP BY 1, 2, 3, 4
) r
