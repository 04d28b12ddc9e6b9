-- One page of get_user_collaborative_studies(p_user_id): the same columns,
-- rows and order (last_activity_at DESC NULLS LAST, study_created_at DESC,
-- study_id), at most p_page_size rows after a keyset cursor.
--
-- The cursor is the last row of the previous page: its last_activity_at,
-- study_created_at and study_id (all three, since rows can tie on the first
-- two). The first page passes NULL for all three; a row whose study has no
-- activity passes NULL as last_activity_at with its other two columns.
-- Concatenated, the pages are exactly the unpaged result, ties included.
-- p_page_size must be between 1 and 1000, and a cursor needs at least
-- p_after_created and p_after_study; anything else raises
-- invalid_parameter_value (22023).
--
-- Each of the user's studies costs one index probe, for its newest activity
-- (the first entry of idx_collaboration_activity_timeline); a top-N sort
-- keeps the page's rows, and only those then read their study, organization
-- and collaborator count. A page costs about the same whatever its number,
-- and far less than the unpaged call for a user on thousands of studies.
CREATE OR REPLACE FUNCTION get_user_collaborative_studies(
    p_user_id uuid,
    p_page_size integer,
    p_after_activity timestamptz DEFAULT NULL,
    p_after_created timestamptz DEFAULT NULL,
    p_after_study uuid DEFAULT NULL
)
RETURNS TABLE (
    study_id uuid,
    study_title varchar,
    study_status varchar,
    study_created_at timestamptz,
    organization_id uuid,
    organization_name varchar,
    role varchar,
    permissions jsonb,
    added_at timestamptz,
    collaborator_count bigint,
    last_activity_at timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = public, pg_temp
AS $$
BEGIN
    IF p_page_size IS NULL OR p_page_size < 1 OR p_page_size > 1000 THEN
        RAISE EXCEPTION 'p_page_size must be between 1 and 1000, got %',
            p_page_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (p_after_created IS NULL) <> (p_after_study IS NULL)
       OR (p_after_activity IS NOT NULL AND p_after_study IS NULL) THEN
        RAISE EXCEPTION 'a cursor needs p_after_created and p_after_study'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the last row''s last_activity_at, '
                         'study_created_at and study_id, or NULL for all '
                         'three for the first page.';
    END IF;

    -- Every column is qualified: the OUT columns above are variables here.
    -- keyed probes each of the user's studies for its newest activity only
    -- (materialized: the filter below reads that value three times);
    -- candidates keeps the rows after the cursor (a study's created_at is
    -- looked up only when its activity ties with the cursor's) and the
    -- page's first rows by activity, with their ties; page orders those by
    -- the whole key.
    RETURN QUERY
    WITH keyed AS MATERIALIZED (
        SELECT sc.study_id AS k_study,
               sc.role AS k_role,
               sc.permissions AS k_permissions,
               sc.added_at AS k_added,
               (SELECT a.created_at
                  FROM collaboration_activity AS a
                 WHERE a.study_id = sc.study_id
                 ORDER BY a.created_at DESC
                 LIMIT 1) AS k_activity
          FROM study_collaborators AS sc
         WHERE sc.user_id = p_user_id
    ),
    candidates AS (
        SELECT k.*
          FROM keyed AS k
         WHERE p_after_study IS NULL
            OR k.k_activity < p_after_activity
            OR (k.k_activity IS NULL AND p_after_activity IS NOT NULL)
            OR (k.k_activity IS NOT DISTINCT FROM p_after_activity
                AND (SELECT s.created_at < p_after_created
                            OR (s.created_at = p_after_created
                                AND s.id > p_after_study)
                       FROM studies AS s
                      WHERE s.id = k.k_study))
         ORDER BY k.k_activity DESC NULLS LAST
         FETCH FIRST p_page_size ROWS WITH TIES
    ),
    page AS (
        SELECT c.*, s.created_at AS k_created
          FROM candidates AS c
          JOIN studies AS s ON s.id = c.k_study
         ORDER BY c.k_activity DESC NULLS LAST, s.created_at DESC, c.k_study
         LIMIT p_page_size
    )
    SELECT s.id,
           s.title,
           s.status,
           s.created_at,
           o.id,
           o.name,
           page.k_role,
           page.k_permissions,
           page.k_added,
           (SELECT count(*)
              FROM study_collaborators AS c
             WHERE c.study_id = page.k_study),
           page.k_activity
      FROM page
      JOIN studies AS s ON s.id = page.k_study
      JOIN organizations AS o ON o.id = s.organization_id
     ORDER BY page.k_activity DESC NULLS LAST, page.k_created DESC, page.k_study;
END
$$
