-- A sample of this server's replication, one object per standby, slot or
-- replay: gauges only. "standby:<application name> <client>": each standby
-- this server sends WAL to, its lags in seconds and its positions behind
-- this server's newest WAL in bytes; "slot:<name>": the WAL a slot keeps and
-- whether it is active; "replay": on a standby, its replay delay (0 once
-- everything received is replayed), the bytes received and not replayed,
-- and whether replay is paused.
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
),
sample AS (
    SELECT 'standby:' || r.application_name || ' '
           || coalesce(host(r.client_addr), 'local socket') AS key,
           jsonb_build_object(
               'write_lag_s', extract(epoch FROM r.write_lag)::float8,
               'flush_lag_s', extract(epoch FROM r.flush_lag)::float8,
               'replay_lag_s', extract(epoch FROM r.replay_lag)::float8,
               'flush_behind_bytes',
               pg_wal_lsn_diff(here.lsn, r.flush_lsn)::bigint,
               'replay_behind_bytes',
               pg_wal_lsn_diff(here.lsn, r.replay_lsn)::bigint) AS gauges
    FROM pg_stat_replication r
    CROSS JOIN here
    UNION ALL
    SELECT 'slot:' || s.slot_name,
           jsonb_build_object(
               'active', s.active::int,
               'retained_bytes',
               pg_wal_lsn_diff(here.lsn, s.restart_lsn)::bigint)
    FROM pg_replication_slots s
    CROSS JOIN here
    UNION ALL
    SELECT 'replay',
           jsonb_build_object(
               'delay_s',
               CASE WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
                    THEN 0
                    ELSE extract(epoch FROM now()
                                 - pg_last_xact_replay_timestamp())::float8
               END,
               'behind_bytes',
               pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                               pg_last_wal_replay_lsn())::bigint,
               'paused',
               (pg_get_wal_replay_pause_state() <> 'not paused')::int)
    WHERE pg_is_in_recovery()
)
SELECT s.key, NULL::timestamptz AS reset_at, '{}'::jsonb AS counters, s.gauges
FROM sample s
