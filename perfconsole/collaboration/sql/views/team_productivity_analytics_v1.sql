-- One row per organization: members, studies, distinct collaborators on its
-- studies, activity in the last 7 and 30 days, the last activity and when the
-- row was computed. Refreshed CONCURRENTLY (hence the unique index), hourly
-- in business hours by the maintenance app.
CREATE MATERIALIZED VIEW team_productivity_analytics AS
SELECT o.id AS organization_id,
       o.name AS organization_name,
       coalesce(m.member_count, 0) AS member_count,
       coalesce(s.studies_created, 0) AS studies_created,
       coalesce(c.collaborators, 0) AS collaborators,
       coalesce(a.activity_last_7_days, 0) AS activity_last_7_days,
       coalesce(a.activity_last_30_days, 0) AS activity_last_30_days,
       a.last_activity_at,
       now() AS computed_at
  FROM organizations AS o
  LEFT JOIN (
        SELECT organization_id, count(*) AS member_count
          FROM organization_members
         GROUP BY organization_id
       ) AS m ON m.organization_id = o.id
  LEFT JOIN (
        SELECT organization_id, count(*) AS studies_created
          FROM studies
         GROUP BY organization_id
       ) AS s ON s.organization_id = o.id
  LEFT JOIN (
        SELECT st.organization_id, count(DISTINCT sc.user_id) AS collaborators
          FROM study_collaborators AS sc
          JOIN studies AS st ON st.id = sc.study_id
         GROUP BY st.organization_id
       ) AS c ON c.organization_id = o.id
  LEFT JOIN (
        SELECT st.organization_id,
               count(*) FILTER (
                   WHERE act.created_at >= now() - interval '7 days'
               ) AS activity_last_7_days,
               count(*) FILTER (
                   WHERE act.created_at >= now() - interval '30 days'
               ) AS activity_last_30_days,
               max(act.created_at) AS last_activity_at
          FROM collaboration_activity AS act
          JOIN studies AS st ON st.id = act.study_id
         GROUP BY st.organization_id
       ) AS a ON a.organization_id = o.id
WITH DATA;

CREATE UNIQUE INDEX team_productivity_analytics_organization_id_key
    ON team_productivity_analytics (organization_id);
