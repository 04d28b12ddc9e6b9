-- Mark organizations whose rollup rows a change makes wrong (see
-- rollup/organization_activity_rollup_v1.sql). Statement-level, so a bulk
-- change costs one mark per organization, and an ordinary insert (created
-- now, read raw from the tail) marks nothing.

-- Activity inserted with a created_at over a minute before its own
-- transaction started may fall before covered_until.
CREATE OR REPLACE FUNCTION collaboration_activity_rollup_inserted()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO organization_activity_rollup_dirty (organization_id)
    SELECT DISTINCT s.organization_id
      FROM new_rows AS n
      JOIN studies AS s ON s.id = n.study_id
     WHERE n.created_at < now() - interval '1 minute';
    RETURN NULL;
END
$$;

-- Activity updated or deleted: the organizations of the old and new rows,
-- unless they were created within a minute of this transaction's start. A
-- rebuild can only have counted a row created before its covered_until,
-- which is at least a minute before the start of every transaction open
-- during the rebuild, this one included; a later rebuild already sees the
-- change. A row deleted with its study has no study left to find; the
-- studies trigger marks its organization.
CREATE OR REPLACE FUNCTION collaboration_activity_rollup_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO organization_activity_rollup_dirty (organization_id)
        SELECT s.organization_id
          FROM (SELECT study_id, created_at FROM old_rows
                UNION ALL
                SELECT study_id, created_at FROM new_rows) AS r
          JOIN studies AS s ON s.id = r.study_id
         WHERE r.created_at < now() - interval '1 minute'
         GROUP BY s.organization_id;
    ELSE
        INSERT INTO organization_activity_rollup_dirty (organization_id)
        SELECT DISTINCT s.organization_id
          FROM old_rows AS o
          JOIN studies AS s ON s.id = o.study_id
         WHERE o.created_at < now() - interval '1 minute';
    END IF;
    RETURN NULL;
END
$$;

-- Studies deleted, or moved to another organization: both organizations.
CREATE OR REPLACE FUNCTION studies_rollup_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO organization_activity_rollup_dirty (organization_id)
        SELECT moved.organization_id
          FROM old_rows AS o
          JOIN new_rows AS n ON n.id = o.id
         CROSS JOIN LATERAL (VALUES (o.organization_id), (n.organization_id))
               AS moved (organization_id)
         WHERE n.organization_id IS DISTINCT FROM o.organization_id
         GROUP BY moved.organization_id;
    ELSE
        INSERT INTO organization_activity_rollup_dirty (organization_id)
        SELECT DISTINCT o.organization_id FROM old_rows AS o;
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE: every organization.
CREATE OR REPLACE FUNCTION activity_rollup_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    INSERT INTO organization_activity_rollup_dirty (organization_id) VALUES (NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER collaboration_activity_rollup_insert
    AFTER INSERT ON collaboration_activity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collaboration_activity_rollup_inserted();
CREATE TRIGGER collaboration_activity_rollup_update
    AFTER UPDATE ON collaboration_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collaboration_activity_rollup_changed();
CREATE TRIGGER collaboration_activity_rollup_delete
    AFTER DELETE ON collaboration_activity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION collaboration_activity_rollup_changed();
CREATE TRIGGER collaboration_activity_rollup_truncate
    AFTER TRUNCATE ON collaboration_activity
    FOR EACH STATEMENT EXECUTE FUNCTION activity_rollup_truncated();
CREATE TRIGGER studies_rollup_update
    AFTER UPDATE ON studies
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studies_rollup_changed();
CREATE TRIGGER studies_rollup_delete
    AFTER DELETE ON studies
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION studies_rollup_changed();
CREATE TRIGGER studies_rollup_truncate
    AFTER TRUNCATE ON studies
    FOR EACH STATEMENT EXECUTE FUNCTION activity_rollup_truncated()
