-- One organization's metrics over the last 30 days, computed live.
SELECT *
  FROM get_organization_analytics(%(organization_id)s, 30)
