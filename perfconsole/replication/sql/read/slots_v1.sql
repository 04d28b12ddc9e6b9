-- Replication slots and the WAL each one keeps on this server: from its
-- restart_lsn to the newest position. An inactive slot keeps WAL until it is
-- used again or dropped; wal_status says whether that WAL is still within
-- max_wal_size ("reserved"), beyond it ("extended"), about to go
-- ("unreserved") or gone ("lost"). inactive_since exists from 17 on, read
-- through to_jsonb so one file serves 14 to 18.
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT s.slot_name,
       s.slot_type,
       s.database,
       s.temporary,
       s.active,
       s.active_pid,
       s.wal_status,
       s.safe_wal_size AS safe_wal_size_bytes,
       s.restart_lsn::text AS restart_lsn,
       pg_wal_lsn_diff(here.lsn, s.restart_lsn)::bigint AS retained_bytes,
       (to_jsonb(s) ->> 'inactive_since')::timestamptz AS inactive_since
FROM pg_replication_slots s
CROSS JOIN here
ORDER BY retained_bytes DESC NULLS LAST, s.slot_name
