-- The studies a user collaborates on.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_study_collaborators_user_studies
    ON study_collaborators (user_id, role)
    INCLUDE (study_id, permissions, added_at)
