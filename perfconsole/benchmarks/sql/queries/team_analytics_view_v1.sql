-- One organization's row of the team productivity materialized view.
SELECT t.*
  FROM team_productivity_analytics AS t
 WHERE t.organization_id = %(organization_id)s
