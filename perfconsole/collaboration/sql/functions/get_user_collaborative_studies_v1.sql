-- The studies a user collaborates on, with their role and permissions there,
-- the study's organization, how many collaborators it has and when anything
-- last happened on it. Most recently active first. An unknown user gets an
-- empty result.
--
-- Index use: idx_study_collaborators_user_studies finds the user's rows;
-- study_collaborators_study_user_uniq / idx_study_collaborators_performance
-- count each study's collaborators (index-only); the newest activity of a
-- study is the first entry of idx_collaboration_activity_timeline.
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
    SELECT s.id,
           s.title,
           s.status,
           s.created_at,
           o.id,
           o.name,
           sc.role,
           sc.permissions,
           sc.added_at,
           (SELECT count(*)
              FROM study_collaborators AS c
             WHERE c.study_id = s.id),
           (SELECT a.created_at
              FROM collaboration_activity AS a
             WHERE a.study_id = s.id
             ORDER BY a.created_at DESC
             LIMIT 1)
      FROM study_collaborators AS sc
      JOIN studies AS s ON s.id = sc.study_id
      JOIN organizations AS o ON o.id = s.organization_id
     WHERE sc.user_id = p_user_id
     ORDER BY 11 DESC NULLS LAST, s.created_at DESC, s.id
$$
