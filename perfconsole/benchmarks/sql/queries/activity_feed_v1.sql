-- The latest 50 events of a study, newest first. Served by
-- idx_collaboration_activity_timeline (index-only, no sort).
SELECT a.created_at, a.activity_type, a.user_id, a.details
  FROM collaboration_activity AS a
 WHERE a.study_id = %(study_id)s
 ORDER BY a.created_at DESC
 LIMIT 50
