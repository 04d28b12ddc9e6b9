-- slow_queries v1: the seed's definition of slow, a mean of one second or
-- more per call (planning included), over query_stats.
CREATE OR REPLACE VIEW slow_queries AS
SELECT *
FROM query_stats
WHERE mean_time_ms >= 1000
