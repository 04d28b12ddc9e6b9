-- Keep user_collaborative_studies (rollup/user_collaborative_studies_v1.sql)
-- exact. Statement-level, so a bulk change costs one statement per table
-- touched, not one per row.
--
-- The studies' own rows serialize the writers of one study (row locks cost
-- no lock-table slot, so a bulk change of thousands of studies is fine):
--
-- * a change of collaborators, of a study's columns kept here, or a deleted
--   or moved activity rebuilds the study's rows whole, after
--   locking the study FOR NO KEY UPDATE (an UPDATE of the study holds that
--   lock already);
-- * a new activity locks its study FOR SHARE, then only raises
--   last_activity_at: inserts into one study do not wait for each other's
--   studies lock, only for the rows they both raise.
--
-- Each side reads the other's tables in a statement that starts after its
-- lock, so whichever commits second sees the first's rows (READ COMMITTED,
-- Django's default; the foreign keys' own FOR KEY SHARE locks conflict with
-- neither).

-- Replace the rows of these studies (NULL: of every study) with their values
-- computed from the raw tables. With NULL the caller holds the tables (a
-- migration's backfill, the demo loader).
CREATE OR REPLACE FUNCTION user_collaborative_studies_rebuild(p_studies uuid[])
RETURNS void
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF p_studies IS NULL THEN
        DELETE FROM user_collaborative_studies;
        INSERT INTO user_collaborative_studies
               (study_id, user_id, role, permissions, added_at, study_title,
                study_status, study_created_at, organization_id, collaborators,
                last_activity_at)
        SELECT sc.study_id, sc.user_id, sc.role, sc.permissions, sc.added_at,
               s.title, s.status, s.created_at, s.organization_id,
               count(*) OVER (PARTITION BY sc.study_id),
               latest.created_at
          FROM study_collaborators AS sc
          JOIN studies AS s ON s.id = sc.study_id
          LEFT JOIN (SELECT a.study_id, max(a.created_at) AS created_at
                       FROM collaboration_activity AS a
                      GROUP BY a.study_id) AS latest
            ON latest.study_id = sc.study_id;
        RETURN;
    END IF;

    PERFORM 1
       FROM studies AS s
      WHERE s.id = ANY(p_studies)
      ORDER BY s.id
        FOR NO KEY UPDATE;

    DELETE FROM user_collaborative_studies AS u WHERE u.study_id = ANY(p_studies);
    INSERT INTO user_collaborative_studies
           (study_id, user_id, role, permissions, added_at, study_title,
            study_status, study_created_at, organization_id, collaborators,
            last_activity_at)
    SELECT sc.study_id, sc.user_id, sc.role, sc.permissions, sc.added_at,
           s.title, s.status, s.created_at, s.organization_id,
           count(*) OVER (PARTITION BY sc.study_id),
           (SELECT a.created_at
              FROM collaboration_activity AS a
             WHERE a.study_id = sc.study_id
             ORDER BY a.created_at DESC
             LIMIT 1)
      FROM study_collaborators AS sc
      JOIN studies AS s ON s.id = sc.study_id
     WHERE sc.study_id = ANY(p_studies);
END
$$;

-- Rows with a study_id changed (collaborators inserted, updated or deleted;
-- activity updated or deleted, whose newest row may be gone): rebuild the
-- studies of the old and new rows.
CREATE OR REPLACE FUNCTION user_collaborative_studies_rows_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_studies uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT n.study_id) INTO v_studies FROM new_rows AS n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT o.study_id) INTO v_studies FROM old_rows AS o;
    ELSE
        SELECT array_agg(DISTINCT r.study_id)
          INTO v_studies
          FROM (SELECT n.study_id FROM new_rows AS n
                UNION ALL
                SELECT o.study_id FROM old_rows AS o) AS r;
    END IF;
    IF v_studies IS NOT NULL THEN
        PERFORM user_collaborative_studies_rebuild(v_studies);
    END IF;
    RETURN NULL;
END
$$;

-- Activity inserted: raise each study's last_activity_at to its newest new
-- row, locking the rows in key order (two bulk inserts never deadlock).
CREATE OR REPLACE FUNCTION user_collaborative_studies_activity_added()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_studies uuid[];
    v_latest timestamptz[];
BEGIN
    SELECT array_agg(n.study_id ORDER BY n.study_id),
           array_agg(n.latest ORDER BY n.study_id)
      INTO v_studies, v_latest
      FROM (SELECT study_id, max(created_at) AS latest
              FROM new_rows
             GROUP BY study_id) AS n;
    IF v_studies IS NULL THEN
        RETURN NULL;
    END IF;

    PERFORM 1 FROM studies AS s WHERE s.id = ANY(v_studies) ORDER BY s.id FOR SHARE;

    PERFORM 1
       FROM user_collaborative_studies AS u
       JOIN unnest(v_studies, v_latest) AS n (study_id, latest)
         ON n.study_id = u.study_id
      WHERE u.last_activity_at IS NULL OR u.last_activity_at < n.latest
      ORDER BY u.study_id, u.user_id
        FOR NO KEY UPDATE OF u;
    UPDATE user_collaborative_studies AS u
       SET last_activity_at = n.latest
      FROM unnest(v_studies, v_latest) AS n (study_id, latest)
     WHERE n.study_id = u.study_id
       AND (u.last_activity_at IS NULL OR u.last_activity_at < n.latest);
    RETURN NULL;
END
$$;

-- Studies updated: rebuild those whose columns kept here changed.
-- (A deleted study takes its collaborators with it: their trigger runs.)
CREATE OR REPLACE FUNCTION user_collaborative_studies_study_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    v_studies uuid[];
BEGIN
    SELECT array_agg(n.id)
      INTO v_studies
      FROM new_rows AS n
      JOIN old_rows AS o ON o.id = n.id
     WHERE (n.title, n.status, n.created_at, n.organization_id)
           IS DISTINCT FROM (o.title, o.status, o.created_at, o.organization_id);
    IF v_studies IS NOT NULL THEN
        PERFORM user_collaborative_studies_rebuild(v_studies);
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE study_collaborators (or studies, which cascades to it): no rows.
CREATE OR REPLACE FUNCTION user_collaborative_studies_emptied()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    DELETE FROM user_collaborative_studies;
    RETURN NULL;
END
$$;

-- TRUNCATE collaboration_activity: no study has activity.
CREATE OR REPLACE FUNCTION user_collaborative_studies_activity_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE user_collaborative_studies
       SET last_activity_at = NULL
     WHERE last_activity_at IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER study_collaborators_list_insert
    AFTER INSERT ON study_collaborators
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_rows_changed();
CREATE TRIGGER study_collaborators_list_update
    AFTER UPDATE ON study_collaborators
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_rows_changed();
CREATE TRIGGER study_collaborators_list_delete
    AFTER DELETE ON study_collaborators
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_rows_changed();
CREATE TRIGGER study_collaborators_list_truncate
    AFTER TRUNCATE ON study_collaborators
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_emptied();
CREATE TRIGGER collaboration_activity_list_insert
    AFTER INSERT ON collaboration_activity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_activity_added();
CREATE TRIGGER collaboration_activity_list_update
    AFTER UPDATE ON collaboration_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_rows_changed();
CREATE TRIGGER collaboration_activity_list_delete
    AFTER DELETE ON collaboration_activity
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_rows_changed();
CREATE TRIGGER collaboration_activity_list_truncate
    AFTER TRUNCATE ON collaboration_activity
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_activity_truncated();
CREATE TRIGGER studies_list_update
    AFTER UPDATE ON studies
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_collaborative_studies_study_changed();
