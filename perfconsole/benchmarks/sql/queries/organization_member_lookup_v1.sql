-- The organizations a user belongs to, with the role there (the seed's
-- "user organization access"). Served by idx_organization_members_user_lookup.
SELECT m.organization_id, o.name, m.role, m.joined_at
  FROM organization_members AS m
  JOIN organizations AS o ON o.id = m.organization_id
 WHERE m.user_id = %(user_id)s
 ORDER BY m.joined_at DESC
