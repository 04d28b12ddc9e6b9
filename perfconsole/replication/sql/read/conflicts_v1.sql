-- Queries a standby cancelled because replay needed what they held, per
-- database (pg_stat_database_conflicts; all zero on a primary).
-- confl_active_logicalslot exists from 16 on, read through to_jsonb.
SELECT c.datname,
       c.confl_tablespace,
       c.confl_lock,
       c.confl_snapshot,
       c.confl_bufferpin,
       c.confl_deadlock,
       coalesce((to_jsonb(c) ->> 'confl_active_logicalslot')::bigint, 0)
           AS confl_active_logicalslot
FROM pg_stat_database_conflicts c
ORDER BY c.datname
