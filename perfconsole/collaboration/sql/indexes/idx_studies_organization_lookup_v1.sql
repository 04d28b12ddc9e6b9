-- An organization's studies by status, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_studies_organization_lookup
    ON studies (organization_id, status, created_at DESC)
    INCLUDE (title, created_by)
