-- Studies by creator: deleting a user sets created_by to NULL through it.
-- Partial: rows without one never need finding.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_studies_created_by
    ON studies (created_by)
    WHERE created_by IS NOT NULL
