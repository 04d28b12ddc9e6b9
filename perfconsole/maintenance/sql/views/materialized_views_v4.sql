-- Every materialized view in the database, and the refreshables the
-- console's apps register (sql/functions/registered_refreshables_v1.sql),
-- with the latest refresh of each. v4 reads the registered refreshables from
-- that function instead of naming one here; the columns are v3's.
--
-- Reads pg_class rather than pg_matviews: pg_matviews decompiles each view's
-- query, which the page does not need. A view's size is left NULL while a
-- plain refresh holds (or waits for) an ACCESS EXCLUSIVE lock on it, so the
-- page never queues behind it. By default the console refreshes only the
-- views its role owns (directly or through a role it is a member of), and
-- lists the others read-only.
CREATE OR REPLACE VIEW maintenance_materialized_view AS
WITH refreshable AS (
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
        -- REFRESH ... CONCURRENTLY needs a valid unique index on plain
        -- columns without a WHERE clause.
        EXISTS (
            SELECT 1
            FROM pg_index i
            WHERE i.indrelid = c.oid
                AND i.indisunique
                AND i.indisvalid
                AND i.indpred IS NULL
                AND i.indexprs IS NULL
        ) AS has_unique_index,
        'materialized view' AS kind,
        pg_get_userbyid(c.relowner) AS owner,
        -- Not pg_has_role(): it is true for a superuser, who would then
        -- refresh (and be alerted on) every other application's views.
        c.relowner = me.oid OR EXISTS (
            SELECT 1
            FROM pg_auth_members m
            WHERE m.member = me.oid AND m.roleid = c.relowner
        ) AS owned
    FROM pg_class c
    CROSS JOIN (SELECT oid FROM pg_roles WHERE rolname = current_user) me
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'm'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT * FROM maintenance_registered_refreshables()
)
SELECT
    r.name,
    r.schema_name,
    r.view_name,
    r.populated,
    r.size_bytes,
    r.row_estimate,
    r.has_unique_index,
    COALESCE(last.status, '') AS last_status,
    last.started_at AS last_started_at,
    last.finished_at AS last_finished_at,
    last.duration_ms AS last_duration_ms,
    COALESCE(last.error, '') AS last_error,
    ok.finished_at AS last_success_at,
    now() - ok.finished_at AS age,
    busy.name IS NOT NULL AS in_progress,
    r.kind,
    r.owner,
    r.owned
FROM refreshable r
LEFT JOIN LATERAL (
    SELECT q.status, q.started_at, q.finished_at, q.duration_ms, q.error
    FROM maintenance_viewrefresh q
    WHERE q.view_name = r.name
        AND q.status IN ('succeeded', 'failed')
    ORDER BY q.requested_at DESC
    LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT q.finished_at
    FROM maintenance_viewrefresh q
    WHERE q.view_name = r.name
        AND q.status = 'succeeded'
    ORDER BY q.requested_at DESC
    LIMIT 1
) ok ON true
-- A lateral probe of the history index per row, like the two above (an
-- EXISTS here may become one hashed scan of the whole history).
LEFT JOIN LATERAL (
    SELECT q.view_name AS name
    FROM maintenance_viewrefresh q
    WHERE q.view_name = r.name
        AND q.status IN ('queued', 'running')
    LIMIT 1
) busy ON true;
