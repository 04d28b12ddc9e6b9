-- The members of an organization, by role.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_organization_members_org_role
    ON organization_members (organization_id, role)
    INCLUDE (user_id, joined_at)
