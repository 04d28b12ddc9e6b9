-- The cache django-q2 writes its cluster heartbeat to (CACHES["tasks"], a
-- Django DatabaseCache: the columns are the ones `createcachetable` makes).
-- Unlogged: the entries live for seconds, so they need no WAL and no replica.
CREATE UNLOGGED TABLE IF NOT EXISTS perfconsole_task_cache (
    cache_key varchar(255) NOT NULL PRIMARY KEY,
    value text NOT NULL,
    expires timestamp with time zone NOT NULL
)
