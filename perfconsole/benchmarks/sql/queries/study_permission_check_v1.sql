-- Is this user a collaborator of this study, and with what permissions?
-- Served by idx_study_collaborators_performance (index-only).
SELECT sc.role, sc.permissions
  FROM study_collaborators AS sc
 WHERE sc.study_id = %(study_id)s
   AND sc.user_id = %(user_id)s
