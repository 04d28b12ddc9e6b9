-- Store a sample of the replication views every collection, every object
-- (lag is a gauge: an unchanged lag is still a point of its chart, and an
-- object gone from the views is a gap, not a stale value). The placeholder
-- "current" (in braces) is sql/current/replication_v1.sql, run here or on a
-- target and staged.
INSERT INTO history_counterdelta
    (database_id, level, period_start, source, key, counters, gauges)
SELECT %(database)s, 0, %(taken_at)s, 'replication', c.key, '{}', c.gauges
FROM ({current}) c
