-- The activity rollup's state, as the console's list of refreshables shows
-- it (the rollup is registered from CollaborationConfig.ready()): built once
-- at least, the size of its four tables, the hourly rows' estimate, and the
-- owner of its tables.
CREATE OR REPLACE FUNCTION organization_activity_rollup_state(
    OUT populated boolean,
    OUT size_bytes bigint,
    OUT row_estimate bigint,
    OUT owner name
)
LANGUAGE sql
STABLE
AS $$
SELECT
    s.covered_until IS NOT NULL,
    (
        SELECT sum(pg_total_relation_size(t))::bigint
        FROM unnest(ARRAY[
            'organization_activity_hourly',
            'organization_member_last_activity',
            'organization_activity_rollup_dirty',
            'organization_activity_rollup_state'
        ]::regclass[]) AS t
    ),
    (
        -- reltuples is -1 (14+) or 0 (older) before the first ANALYZE.
        SELECT CASE WHEN h.reltuples >= 0 THEN h.reltuples::bigint END
        FROM pg_class h
        WHERE h.oid = 'organization_activity_hourly'::regclass
    ),
    (
        SELECT pg_get_userbyid(o.relowner)
        FROM pg_class o
        WHERE o.oid = 'organization_activity_rollup_state'::regclass
    )
FROM organization_activity_rollup_state s
-- Its key: the planner then counts on one row, not a guess.
WHERE s.id = true
$$;
