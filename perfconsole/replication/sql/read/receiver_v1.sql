-- A standby's side (one row; in_recovery false on a primary): the WAL it
-- received and replayed, whether replay is paused, and the replay delay.
-- The delay is the age of the last transaction replayed while WAL waits to
-- be replayed, 0 once everything received is replayed: on a quiet primary
-- the last transaction may be old without the standby being behind. The
-- sender (pg_stat_wal_receiver) is NULL when the standby does not stream.
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                       pg_last_wal_replay_lsn())::bigint AS replay_behind_bytes,
       pg_last_xact_replay_timestamp() AS last_replayed_xact_at,
       CASE
           WHEN NOT pg_is_in_recovery() THEN NULL
           WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
           ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8 AS replay_delay_s,
       CASE WHEN pg_is_in_recovery()
            THEN pg_get_wal_replay_pause_state() END AS replay_pause_state,
       w.status AS receiver_status,
       w.sender_host,
       w.sender_port,
       w.slot_name AS receiver_slot,
       w.last_msg_receipt_time
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_wal_receiver w ON true
