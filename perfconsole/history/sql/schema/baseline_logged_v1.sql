-- Reverse of baseline_unlogged_v1.sql.
ALTER TABLE history_baseline RESET (fillfactor);
ALTER TABLE history_baseline SET LOGGED;
