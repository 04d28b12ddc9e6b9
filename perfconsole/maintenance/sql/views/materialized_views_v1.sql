-- Every materialized view in the database, with its latest refresh.
--
-- Reads pg_class rather than pg_matviews: pg_matviews decompiles each view's
-- query, which the page does not need. The size is left NULL while a plain
-- refresh holds (or waits for) an ACCESS EXCLUSIVE lock on the view, so the
-- page never queues behind it.
CREATE VIEW maintenance_materialized_view AS
SELECT
    c.oid::regclass::text AS name,
    n.nspname AS schema_name,
    c.relname AS view_name,
    c.relispopulated AS populated,
    CASE
        WHEN NOT EXISTS (
            SELECT 1
            FROM pg_locks l
            WHERE l.locktype = 'relation'
                AND l.relation = c.oid
                AND l.mode = 'AccessExclusiveLock'
        ) THEN pg_total_relation_size(c.oid)
    END AS size_bytes,
    -- reltuples is -1 (14+) or 0 (older) before the first ANALYZE.
    CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS row_estimate,
    -- REFRESH ... CONCURRENTLY needs a valid unique index on plain columns
    -- without a WHERE clause.
    EXISTS (
        SELECT 1
        FROM pg_index i
        WHERE i.indrelid = c.oid
            AND i.indisunique
            AND i.indisvalid
            AND i.indpred IS NULL
            AND i.indexprs IS NULL
    ) AS has_unique_index,
    COALESCE(last.status, '') AS last_status,
    last.started_at AS last_started_at,
    last.finished_at AS last_finished_at,
    last.duration_ms AS last_duration_ms,
    COALESCE(last.error, '') AS last_error,
    ok.finished_at AS last_success_at,
    now() - ok.finished_at AS age,
    EXISTS (
        SELECT 1
        FROM maintenance_viewrefresh r
        WHERE r.view_name = c.oid::regclass::text
            AND r.status IN ('queued', 'running')
    ) AS in_progress
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT r.status, r.started_at, r.finished_at, r.duration_ms, r.error
    FROM maintenance_viewrefresh r
    WHERE r.view_name = c.oid::regclass::text
        AND r.status IN ('succeeded', 'failed')
    ORDER BY r.requested_at DESC
    LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT r.finished_at
    FROM maintenance_viewrefresh r
    WHERE r.view_name = c.oid::regclass::text
        AND r.status = 'succeeded'
    ORDER BY r.requested_at DESC
    LIMIT 1
) ok ON true
WHERE c.relkind = 'm'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema');
