-- The studies a user collaborates on, with stats, most recently active first.
SELECT *
  FROM get_user_collaborative_studies(%(user_id)s)
