-- Permission check: may this user do something on this study?
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_study_collaborators_performance
    ON study_collaborators (study_id, user_id, role)
    INCLUDE (permissions, added_at, added_by)
