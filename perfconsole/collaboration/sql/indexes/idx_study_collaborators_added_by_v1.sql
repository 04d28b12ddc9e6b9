-- Who added a collaborator: deleting a user sets added_by to NULL through it.
-- Partial: rows without one never need finding.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_study_collaborators_added_by
    ON study_collaborators (added_by)
    WHERE added_by IS NOT NULL
