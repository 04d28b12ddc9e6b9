-- A relation's rows by its key, oldest first per level: when the history
-- first saw an index, a table's size before a moment, one table's charts.
-- Only the relation sources: the others are read by period.
CREATE INDEX CONCURRENTLY IF NOT EXISTS history_relation_by_key
    ON history_counterdelta (database_id, source, key, level, period_start)
    WHERE source IN ('table', 'index', 'size')
