-- The standbys this server sends WAL to (pg_stat_replication): state, sync
-- state, the write, flush and replay lag PostgreSQL measured (NULL once a
-- standby has caught up and nothing is being written), and the bytes each
-- of its positions is behind this server's newest one. Without pg_monitor
-- (or pg_read_all_stats) the positions and lags read NULL.
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT r.pid,
       r.application_name,
       coalesce(host(r.client_addr), 'local socket') AS client,
       r.state,
       r.sync_state,
       r.backend_start,
       r.reply_time,
       extract(epoch FROM r.write_lag)::float8 AS write_lag_s,
       extract(epoch FROM r.flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s,
       pg_wal_lsn_diff(here.lsn, r.sent_lsn)::bigint AS sent_behind_bytes,
       pg_wal_lsn_diff(here.lsn, r.write_lsn)::bigint AS write_behind_bytes,
       pg_wal_lsn_diff(here.lsn, r.flush_lsn)::bigint AS flush_behind_bytes,
       pg_wal_lsn_diff(here.lsn, r.replay_lsn)::bigint AS replay_behind_bytes
FROM pg_stat_replication r
CROSS JOIN here
ORDER BY r.application_name, r.pid
