-- The instant up to which the activity rollup holds an organization's
-- activity, or NULL when it cannot be used for it: never built, or marked
-- dirty for this organization (or for all) since.
CREATE OR REPLACE FUNCTION organization_rollup_covered_until(p_org_id uuid)
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT state.covered_until
      FROM organization_activity_rollup_state AS state
     WHERE NOT EXISTS (
               SELECT 1
                 FROM organization_activity_rollup_dirty AS dirty
                WHERE dirty.organization_id = p_org_id
                   OR dirty.organization_id IS NULL
           )
$$
