-- Each refresh recorded as running, with the backend that holds its view's
-- refresh lock now. A refresh takes the lock
-- (pg_try_advisory_lock(hashtext('perfconsole.refresh:' || view))) on its
-- own session before its row says "running" and records the outcome before
-- the session ends, so a running row whose backend does not hold the lock
-- has lost its worker (killed, or its server session gone). A backend still
-- holding it is that refresh, even if its client process was killed: the
-- server finishes the statement before it notices.
--
-- pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid)
-- with objsubid = 1.
CREATE OR REPLACE VIEW maintenance_running_refresh AS
SELECT
    r.id,
    r.view_name,
    r.backend_pid,
    holder.pid AS lock_holder_pid,
    EXISTS (
        SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid
    ) AS backend_alive,
    -- Rows written before the pid was recorded: gone when nobody holds it.
    CASE
        WHEN r.backend_pid IS NULL THEN holder.pid IS NULL
        ELSE holder.pid IS DISTINCT FROM r.backend_pid
    END AS worker_gone
FROM maintenance_viewrefresh r
LEFT JOIN LATERAL (
    SELECT l.pid
    FROM pg_locks l
    WHERE l.locktype = 'advisory'
        AND l.granted
        AND l.objsubid = 1
        AND l.database = (
            SELECT oid FROM pg_database WHERE datname = current_database()
        )
        AND (l.classid::bigint << 32) | l.objid::bigint
            = hashtext('perfconsole.refresh:' || r.view_name)::bigint
    LIMIT 1
) holder ON true
WHERE r.status = 'running'
