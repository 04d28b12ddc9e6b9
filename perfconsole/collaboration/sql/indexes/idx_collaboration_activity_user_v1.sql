-- A user's activity: deleting a user sets user_id to NULL through it.
-- Partial: rows without one never need finding.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_collaboration_activity_user
    ON collaboration_activity (user_id)
    WHERE user_id IS NOT NULL
