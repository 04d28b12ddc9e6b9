-- The baseline is derived state, rewritten at every collection: unlogged, its
-- updates write no WAL (after a crash it is empty and the next collection
-- only sets a new baseline, storing no delta for that interval); free space
-- in each page lets an update stay on its page (HOT, no index entry).
ALTER TABLE history_baseline SET UNLOGGED;
ALTER TABLE history_baseline SET (fillfactor = 70);
