-- Which organizations a user belongs to, and with what role.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_organization_members_user_lookup
    ON organization_members (user_id, organization_id, role)
    INCLUDE (joined_at, invited_by)
