-- slow_queries v2: the seed's definition of slow, a mean of one second or
-- more per call (planning included), over query_stats; re-created so that
-- SELECT * takes query_stats v2's is_console column too.
CREATE OR REPLACE VIEW slow_queries AS
SELECT *
FROM query_stats
WHERE mean_time_ms >= 1000
