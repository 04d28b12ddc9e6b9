-- The scans this server counted of the named indexes (schema.index, as the
-- unused-index check names them). A standby keeps its own counts: the
-- primary's say nothing of the reads served here.
SELECT s.schemaname || '.' || s.indexrelname AS subject,
       s.idx_scan
FROM pg_stat_user_indexes s
WHERE s.schemaname || '.' || s.indexrelname = ANY(%s)
