-- One page of get_user_collaborative_studies(p_user_id): the same columns,
-- rows and order (last_activity_at DESC NULLS LAST, study_created_at DESC,
-- study_id), at most p_page_size rows after a keyset cursor. The arguments,
-- the cursor and the errors are v1's (get_user_collaborative_studies_paged_v1.sql).
--
-- v2 reads user_collaborative_studies (migration 0015) through its order
-- index, which holds every column but the organization's name: a page is the
-- next p_page_size entries after the cursor, read from the index alone (the
-- cursor's test included), then each row's organization name by key. The
-- first page reads p_page_size entries whatever the user's number of
-- studies; a later page also steps over the entries before its cursor (4 543
-- for the heaviest user's last page at `large`, under a millisecond).
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
    RETURN QUERY
    SELECT u.study_id,
           u.study_title,
           u.study_status,
           u.study_created_at,
           u.organization_id,
           (SELECT o.name FROM organizations AS o WHERE o.id = u.organization_id),
           u.role,
           u.permissions,
           u.added_at,
           u.collaborators,
           u.last_activity_at
      FROM user_collaborative_studies AS u
     WHERE u.user_id = p_user_id
       AND (p_after_study IS NULL
            -- Older activity; no activity after a cursor with some.
            OR u.last_activity_at < p_after_activity
            OR (u.last_activity_at IS NULL AND p_after_activity IS NOT NULL)
            -- The cursor's activity: created earlier, or a later id.
            OR (u.last_activity_at IS NOT DISTINCT FROM p_after_activity
                AND (u.study_created_at < p_after_created
                     OR (u.study_created_at = p_after_created
                         AND u.study_id > p_after_study))))
     ORDER BY u.last_activity_at DESC NULLS LAST, u.study_created_at DESC, u.study_id
     LIMIT p_page_size;
END
$$
