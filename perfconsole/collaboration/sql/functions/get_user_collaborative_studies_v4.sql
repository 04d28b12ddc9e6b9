-- The studies a user collaborates on: the same argument, columns, results and
-- order as v1-v3 (see get_user_collaborative_studies_v1.sql), most recently
-- active first (last_activity_at DESC NULLS LAST, then study_created_at DESC,
-- then study_id).
--
-- v4 reads user_collaborative_studies (kept by triggers, migration 0015),
-- which holds every column but the organization's name, in the function's
-- order: one index-only scan of user_collaborative_studies_order, no sort,
-- and per study only its organization's name by key (memoized: a user's
-- studies share a few organizations). The OFFSET 0 keeps that lookup per row
-- for a user on thousands of studies, where the planner would rather hash
-- the whole organizations table.
CREATE OR REPLACE FUNCTION get_user_collaborative_studies(p_user_id uuid)
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
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT u.study_id,
           u.study_title,
           u.study_status,
           u.study_created_at,
           u.organization_id,
           o.name,
           u.role,
           u.permissions,
           u.added_at,
           u.collaborators,
           u.last_activity_at
      FROM user_collaborative_studies AS u
     CROSS JOIN LATERAL (
            SELECT o.name
              FROM organizations AS o
             WHERE o.id = u.organization_id
            OFFSET 0
           ) AS o
     WHERE u.user_id = p_user_id
     ORDER BY u.last_activity_at DESC NULLS LAST, u.study_created_at DESC, u.study_id
$$
