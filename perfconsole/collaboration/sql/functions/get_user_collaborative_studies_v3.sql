-- The studies a user collaborates on: the same argument, columns, results and
-- order as v1 and v2 (see get_user_collaborative_studies_v1.sql), most
-- recently active first (last_activity_at DESC NULLS LAST, then
-- study_created_at DESC, then study_id).
--
-- v3 replaces v2, whose plan broke once cached: after five calls PostgreSQL
-- 18 keeps a generic plan, which estimated 6 studies for any user and
-- rescanned v2's CTE of the user's studies once per study (600-700 ms for the
-- user on 4 543 studies at `large`, against ~50 ms for v1).
--
-- Every lookup of a study here is by key, so every plan (custom or generic)
-- costs the same per study and nothing is read per call beyond the user's
-- studies: the user's rows (idx_study_collaborators_user_studies, index-only),
-- then for each its study and organization by primary key (OFFSET 0 keeps
-- those lookups per row: v1's plan read all of studies for a user on a few
-- hundred studies), its collaborators counted index-only
-- (idx_study_collaborators_performance) and its newest activity, the first
-- entry of idx_collaboration_activity_timeline. A user on thousands of
-- studies should read them a page at a time (the paged form, same name).
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
           counted.collaborators,
           latest.created_at
      FROM study_collaborators AS sc
     CROSS JOIN LATERAL (
            SELECT s.id, s.title, s.status, s.created_at, s.organization_id
              FROM studies AS s
             WHERE s.id = sc.study_id
            OFFSET 0
           ) AS s
     CROSS JOIN LATERAL (
            SELECT o.id, o.name
              FROM organizations AS o
             WHERE o.id = s.organization_id
            OFFSET 0
           ) AS o
     CROSS JOIN LATERAL (
            SELECT count(*) AS collaborators
              FROM study_collaborators AS c
             WHERE c.study_id = sc.study_id
           ) AS counted
      LEFT JOIN LATERAL (
            SELECT a.created_at
              FROM collaboration_activity AS a
             WHERE a.study_id = sc.study_id
             ORDER BY a.created_at DESC
             LIMIT 1
           ) AS latest ON true
     WHERE sc.user_id = p_user_id
     ORDER BY 11 DESC NULLS LAST, s.created_at DESC, s.id
$$
