-- Store a sample of the sessions (summed by the rollups, the counts divided
-- by the number of collections give the mean number of sessions in each
-- state or wait). Unlike version 1 it reads its sample from the placeholder
-- "current" (in braces: sql/current/activity_v1.sql, run here or on a
-- target and staged), so a target's sessions are stored the same way.
INSERT INTO history_counterdelta
    (database_id, level, period_start, source, key, counters, gauges)
SELECT %(database)s, 0, %(taken_at)s, 'activity', c.key, c.counters, NULL
FROM ({current}) c
