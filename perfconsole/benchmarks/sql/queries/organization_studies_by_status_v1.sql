-- An organization's studies in one status, newest first, one page.
-- Served by idx_studies_organization_lookup (no sort).
SELECT s.id, s.title, s.created_by, s.created_at
  FROM studies AS s
 WHERE s.organization_id = %(organization_id)s
   AND s.status = %(status)s
 ORDER BY s.created_at DESC
 LIMIT 50
