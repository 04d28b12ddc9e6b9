-- Django's DatabaseCache culls by expiry.
CREATE INDEX IF NOT EXISTS perfconsole_task_cache_expires
ON perfconsole_task_cache (expires)
