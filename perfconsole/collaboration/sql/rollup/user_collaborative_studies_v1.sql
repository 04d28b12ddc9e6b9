-- What get_user_collaborative_studies (v4) reads instead of looking up each
-- study's collaborators and newest activity: one row per study_collaborators
-- row, with what the function returns for it but the organization's name
-- (an organization's rename would rewrite thousands of rows). Kept exact by
-- the triggers in triggers/user_collaborative_studies_triggers_v1.sql.
CREATE TABLE user_collaborative_studies (
    study_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role varchar(20) NOT NULL,
    permissions jsonb NOT NULL,
    added_at timestamptz NOT NULL,
    study_title varchar(300) NOT NULL,
    study_status varchar(20) NOT NULL,
    study_created_at timestamptz NOT NULL,
    organization_id uuid NOT NULL,
    -- The study's rows in study_collaborators.
    collaborators bigint NOT NULL,
    -- The study's newest collaboration_activity.created_at (none: NULL).
    last_activity_at timestamptz,
    PRIMARY KEY (study_id, user_id)
);

-- A user's studies in the function's order, with every column it returns:
-- the whole list is one index-only scan without a sort, and a page is the
-- next entries after its cursor.
CREATE INDEX user_collaborative_studies_order
    ON user_collaborative_studies
       (user_id, last_activity_at DESC NULLS LAST, study_created_at DESC, study_id)
       INCLUDE (study_title, study_status, organization_id, role, permissions,
                added_at, collaborators);
