-- The load scenario's organization member lookup (the benchmark's query with
-- the organization's name left out, as an access check would run it).
SELECT m.organization_id, m.role
  FROM organization_members AS m
 WHERE m.user_id = %(user_id)s
