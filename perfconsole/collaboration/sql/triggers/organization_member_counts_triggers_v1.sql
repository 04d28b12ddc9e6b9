-- Keep organization_member_counts and organization_member_activity_hourly
-- (rollup/organization_member_counts_v1.sql) exact. Statement-level, so a
-- bulk change costs one upsert per organization (and hour), not per row.
--
-- The histogram depends on two tables written by different transactions:
-- organization_members (any writer) and organization_member_last_activity
-- (the rollup's rebuild). Each side locks the rollup's state row before
-- reading the other table, in a statement that starts after the lock, so
-- whichever commits second sees the first's rows: a member writer takes FOR
-- KEY SHARE (member writers never wait for each other), a rebuild holds FOR
-- UPDATE from its start. A member written while a rebuild runs waits for it
-- (4 ms to a few seconds incremental, under a minute for a full rebuild).

-- Add signed changes to the histogram, each organization's hours in key
-- order (two writers lock shared rows in the same order), and drop the hours
-- left with no member.
CREATE OR REPLACE FUNCTION organization_member_activity_add(
    p_organizations uuid[], p_hours timestamptz[], p_changes integer[]
)
RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_emptied_organizations uuid[];
    v_emptied_hours timestamptz[];
BEGIN
    WITH added AS (
        INSERT INTO organization_member_activity_hourly AS h
               (organization_id, hour, members)
        SELECT c.organization_id, c.hour, c.change
          FROM unnest(p_organizations, p_hours, p_changes)
               AS c (organization_id, hour, change)
         ORDER BY c.organization_id, c.hour
            ON CONFLICT (organization_id, hour) DO UPDATE
           SET members = h.members + excluded.members
        RETURNING h.organization_id, h.hour, h.members
    )
    SELECT array_agg(added.organization_id), array_agg(added.hour)
      INTO v_emptied_organizations, v_emptied_hours
      FROM added
     WHERE added.members = 0;

    -- A second statement: the upsert's own statement cannot see its rows.
    IF v_emptied_organizations IS NOT NULL THEN
        DELETE FROM organization_member_activity_hourly AS h
         USING unnest(v_emptied_organizations, v_emptied_hours)
               AS e (organization_id, hour)
         WHERE h.organization_id = e.organization_id
           AND h.hour = e.hour
           AND h.members = 0;
    END IF;
END
$$;

-- Members joined (+1) or left (-1) organizations: net changes, one per
-- (organization, user). Counts them, and moves the members' hours of last
-- activity into or out of the histogram.
CREATE OR REPLACE FUNCTION organization_member_counts_add(
    p_organizations uuid[], p_users uuid[], p_changes integer[]
)
RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_organizations uuid[];
    v_hours timestamptz[];
    v_changes integer[];
    v_emptied uuid[];
BEGIN
    -- Before reading organization_member_last_activity (see above).
    PERFORM 1 FROM organization_activity_rollup_state FOR KEY SHARE;

    WITH added AS (
        INSERT INTO organization_member_counts AS t (organization_id, members)
        SELECT c.organization_id, sum(c.change)
          FROM unnest(p_organizations, p_changes) AS c (organization_id, change)
         GROUP BY c.organization_id
         ORDER BY c.organization_id
            ON CONFLICT (organization_id) DO UPDATE
           SET members = t.members + excluded.members
        RETURNING t.organization_id, t.members
    )
    SELECT array_agg(added.organization_id)
      INTO v_emptied
      FROM added
     WHERE added.members = 0;
    IF v_emptied IS NOT NULL THEN
        DELETE FROM organization_member_counts AS t
         WHERE t.organization_id = ANY(v_emptied)
           AND t.members = 0;
    END IF;

    SELECT array_agg(moved.organization_id),
           array_agg(moved.hour),
           array_agg(moved.change)
      INTO v_organizations, v_hours, v_changes
      FROM (SELECT c.organization_id,
                   date_trunc('hour', l.last_activity_at, 'UTC') AS hour,
                   sum(c.change)::integer AS change
              FROM unnest(p_organizations, p_users, p_changes)
                   AS c (organization_id, user_id, change)
              JOIN organization_member_last_activity AS l
                ON l.organization_id = c.organization_id
               AND l.user_id = c.user_id
             GROUP BY 1, 2
            HAVING sum(c.change) <> 0) AS moved;
    IF v_organizations IS NOT NULL THEN
        PERFORM organization_member_activity_add(v_organizations, v_hours, v_changes);
    END IF;
END
$$;

-- organization_members inserted, updated or deleted. An update that keeps
-- each row's organization and user (a new role) changes nothing and locks
-- nothing.
CREATE OR REPLACE FUNCTION organization_members_counted()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_organizations uuid[];
    v_users uuid[];
    v_changes integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.organization_id), array_agg(n.user_id), array_agg(1)
          INTO v_organizations, v_users, v_changes
          FROM new_rows AS n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(o.organization_id), array_agg(o.user_id), array_agg(-1)
          INTO v_organizations, v_users, v_changes
          FROM old_rows AS o;
    ELSE
        SELECT array_agg(c.organization_id), array_agg(c.user_id), array_agg(c.change)
          INTO v_organizations, v_users, v_changes
          FROM (SELECT r.organization_id, r.user_id, sum(r.change)::integer AS change
                  FROM (SELECT n.organization_id, n.user_id, 1 AS change
                          FROM new_rows AS n
                        UNION ALL
                        SELECT o.organization_id, o.user_id, -1
                          FROM old_rows AS o) AS r
                 GROUP BY 1, 2
                HAVING sum(r.change) <> 0) AS c;
    END IF;
    IF v_organizations IS NOT NULL THEN
        PERFORM organization_member_counts_add(v_organizations, v_users, v_changes);
    END IF;
    RETURN NULL;
END
$$;

-- organization_member_last_activity changed (the rollup's rebuild): each
-- member's old hour loses it, its new hour gains it.
CREATE OR REPLACE FUNCTION organization_member_last_activity_counted()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_organizations uuid[];
    v_hours timestamptz[];
    v_changes integer[];
BEGIN
    -- Before reading organization_members (see above); a rebuild holds it.
    PERFORM 1 FROM organization_activity_rollup_state FOR UPDATE;

    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(c.organization_id), array_agg(c.hour), array_agg(c.change)
          INTO v_organizations, v_hours, v_changes
          FROM (SELECT n.organization_id,
                       date_trunc('hour', n.last_activity_at, 'UTC') AS hour,
                       count(*)::integer AS change
                  FROM new_rows AS n
                  JOIN organization_members AS m
                    ON m.organization_id = n.organization_id
                   AND m.user_id = n.user_id
                 GROUP BY 1, 2) AS c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(c.organization_id), array_agg(c.hour), array_agg(c.change)
          INTO v_organizations, v_hours, v_changes
          FROM (SELECT o.organization_id,
                       date_trunc('hour', o.last_activity_at, 'UTC') AS hour,
                       -count(*)::integer AS change
                  FROM old_rows AS o
                  JOIN organization_members AS m
                    ON m.organization_id = o.organization_id
                   AND m.user_id = o.user_id
                 GROUP BY 1, 2) AS c;
    ELSE
        SELECT array_agg(c.organization_id), array_agg(c.hour), array_agg(c.change)
          INTO v_organizations, v_hours, v_changes
          FROM (SELECT r.organization_id,
                       date_trunc('hour', r.last_activity_at, 'UTC') AS hour,
                       sum(r.change)::integer AS change
                  FROM (SELECT n.organization_id, n.user_id, n.last_activity_at,
                               1 AS change
                          FROM new_rows AS n
                        UNION ALL
                        SELECT o.organization_id, o.user_id, o.last_activity_at, -1
                          FROM old_rows AS o) AS r
                  JOIN organization_members AS m
                    ON m.organization_id = r.organization_id
                   AND m.user_id = r.user_id
                 GROUP BY 1, 2
                HAVING sum(r.change) <> 0) AS c;
    END IF;
    IF v_organizations IS NOT NULL THEN
        PERFORM organization_member_activity_add(v_organizations, v_hours, v_changes);
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE organization_members: no member anywhere.
CREATE OR REPLACE FUNCTION organization_members_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    DELETE FROM organization_member_counts;
    DELETE FROM organization_member_activity_hourly;
    RETURN NULL;
END
$$;

-- TRUNCATE organization_member_last_activity: no member active anywhere.
CREATE OR REPLACE FUNCTION organization_member_last_activity_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    DELETE FROM organization_member_activity_hourly;
    RETURN NULL;
END
$$;

CREATE TRIGGER organization_members_count_insert
    AFTER INSERT ON organization_members
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_members_counted();
CREATE TRIGGER organization_members_count_update
    AFTER UPDATE ON organization_members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_members_counted();
CREATE TRIGGER organization_members_count_delete
    AFTER DELETE ON organization_members
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_members_counted();
CREATE TRIGGER organization_members_count_truncate
    AFTER TRUNCATE ON organization_members
    FOR EACH STATEMENT EXECUTE FUNCTION organization_members_truncated();
CREATE TRIGGER organization_member_last_activity_count_insert
    AFTER INSERT ON organization_member_last_activity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_member_last_activity_counted();
CREATE TRIGGER organization_member_last_activity_count_update
    AFTER UPDATE ON organization_member_last_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_member_last_activity_counted();
CREATE TRIGGER organization_member_last_activity_count_delete
    AFTER DELETE ON organization_member_last_activity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION organization_member_last_activity_counted();
CREATE TRIGGER organization_member_last_activity_count_truncate
    AFTER TRUNCATE ON organization_member_last_activity
    FOR EACH STATEMENT EXECUTE FUNCTION organization_member_last_activity_truncated();
