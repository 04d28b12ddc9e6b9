-- An organization's metrics over the last p_days days: the same arguments,
-- columns and results as v1 to v4 (see get_organization_analytics_v2.sql
-- for what each column means). The window [now() - p_days, now()] is read
-- by organization_analytics_window(), which reads the window's first partial
-- hour from its nearer side: at most half an hour of raw rows where v4 read
-- up to an hour (see organization_analytics_window_v1.sql).
CREATE OR REPLACE FUNCTION get_organization_analytics(p_org_id uuid, p_days integer)
RETURNS TABLE (
    organization_id uuid,
    period_start timestamptz,
    period_end timestamptz,
    total_members bigint,
    active_members bigint,
    member_engagement_pct numeric,
    studies_created bigint,
    total_activities bigint,
    activity_by_type jsonb,
    reviews_requested bigint,
    reviews_resolved bigint,
    avg_resolution_hours numeric
)
LANGUAGE plpgsql
STABLE
SET search_path = public, pg_temp
-- A plan for each call's own window and organization: after five calls a
-- cached generic plan, blind to how many rows the window holds, took 3-5
-- times as long for the largest organization.
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    IF p_days IS NULL OR p_days < 0 OR p_days > 36600 THEN
        RAISE EXCEPTION 'p_days must be between 0 and 36600, got %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT *
      FROM organization_analytics_window(
               p_org_id, now() - make_interval(days => p_days), now()
           );
END
$$
