-- Who invited whom: deleting a user sets invited_by to NULL through it.
-- Partial: rows without one never need finding.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_organization_members_invited_by
    ON organization_members (invited_by)
    WHERE invited_by IS NOT NULL
