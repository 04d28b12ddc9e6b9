-- A study's activity feed, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_collaboration_activity_timeline
    ON collaboration_activity (study_id, created_at DESC, activity_type)
    INCLUDE (user_id, details)
