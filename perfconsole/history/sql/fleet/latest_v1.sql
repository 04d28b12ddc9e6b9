-- Per monitored database (ids): its latest collection, and the transactions
-- (commits and rollbacks) and seconds of its last few collections that read
-- pg_stat_database; a collection without a database row saw no transaction.
SELECT m.id AS database_id,
       latest.taken_at AS last_collection,
       rate.seconds,
       rate.transactions
FROM unnest(%(ids)s::bigint[]) AS m(id)
LEFT JOIN LATERAL (
    SELECT s.taken_at
    FROM history_snapshot s
    WHERE s.database_id = m.id
    ORDER BY s.taken_at DESC
    LIMIT 1
) latest ON true
LEFT JOIN LATERAL (
    SELECT sum(s.interval_seconds) AS seconds,
           sum(coalesce((d.counters ->> 'xact_commit')::numeric, 0)
               + coalesce((d.counters ->> 'xact_rollback')::numeric, 0))
               AS transactions
    FROM (
        SELECT s.taken_at, s.interval_seconds
        FROM history_snapshot s
        WHERE s.database_id = m.id
          AND s.status <> 'failed'
          AND s.interval_seconds > 0
          AND NOT s.missing @> '["database"]'
        ORDER BY s.taken_at DESC
        LIMIT %(collections)s
    ) s
    LEFT JOIN history_counterdelta d
           ON d.database_id = m.id
          AND d.level = 0
          AND d.period_start = s.taken_at
          AND d.source = 'database'
          AND d.key = ''
) rate ON true
