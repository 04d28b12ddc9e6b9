-- pg_stat_io (PostgreSQL 16+): one object per backend type, object and
-- context; every numeric column is a counter but op_bytes, a constant.
SELECT concat_ws('/', v.backend_type, v.object, v.context) AS key,
       v.stats_reset AS reset_at,
       (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
        FROM jsonb_each(to_jsonb(v)) e
        WHERE jsonb_typeof(e.value) = 'number'
          AND e.key <> 'op_bytes') AS counters,
       NULL::jsonb AS gauges
FROM pg_stat_io v
